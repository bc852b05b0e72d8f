"""What runs inside the Quick, Draw! pipeline: ink math, parsing, encoding, Beam transforms."""
