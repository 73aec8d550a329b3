"""Training: SDMG-R on receipts (`kie`), Bert-Softmax NER (`ner`)."""
