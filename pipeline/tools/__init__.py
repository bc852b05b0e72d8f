"""Data tools around the pipeline: the downloader, the official class names, the demo corpus."""
