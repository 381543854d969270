"""The Personalizer-compatible REST service over the embedded engine (`python app.py personalizer`)."""
