"""spectrojobs glue: the Python that drives and watches the job lifecycle."""
