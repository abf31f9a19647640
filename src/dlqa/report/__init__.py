"""Views of stored results: terminal summary, self-contained HTML, versioned JSON, JUnit XML."""
