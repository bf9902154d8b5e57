"""The label loop: choose passages to label next (``framescope label select``) and write them for
Label Studio, Argilla or a spreadsheet; read annotations back (``framescope label import``)."""
