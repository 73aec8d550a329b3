"""`ocrserve eval` and `ocrserve dataset`: dataset readers and converters, metrics, runs."""
