"""Paper figures and tables as commands (`ior reproduce ID`)."""
