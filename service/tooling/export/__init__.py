"""ONNX export of MMOCR checkpoints (torch); `ocrserve export-onnx`."""
