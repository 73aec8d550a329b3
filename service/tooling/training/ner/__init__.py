"""Training Bert-Softmax NER (``ocrserve train ner``): CLUENER json-lines reading, a vocab for
training from scratch, a synthetic corpus for tests, the training loop and evaluation."""
