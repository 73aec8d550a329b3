"""`ocrserve train det`: fine-tune a zoo DB detector (PP-OCR ONNX via onnx2torch) on ICDAR / MMOCR data."""
