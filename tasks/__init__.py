"""Celery side: the app, task names, thin task adapters, the pipeline they call, beat sweepers."""
