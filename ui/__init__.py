"""Streamlit app (installed as ``frbtriage.ui``)."""
