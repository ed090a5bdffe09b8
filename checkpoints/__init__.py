"""The shipped checkpoint(s), installed as package data."""
