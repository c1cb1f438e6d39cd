"""One reader (and, where a study needs it, writer) per file format; each raises ``DataFormatError``
naming the file and the problem."""
