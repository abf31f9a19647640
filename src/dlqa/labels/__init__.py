"""Annotation QA: agreement between annotators, and the items to adjudicate."""
