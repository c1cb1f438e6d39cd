"""Study drivers: the logic behind each notebook, kept here where it is tested."""
