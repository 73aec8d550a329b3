"""Key information extraction (KIE): a native PyTorch SDMG-R (MMOCR 1.x layout) and its F1 metric.

No mmcv / mmdet / mmengine / torchvision import anywhere in this package.
"""
