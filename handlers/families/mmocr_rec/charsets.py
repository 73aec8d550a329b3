"""Built-in copies of MMOCR's dictionary files (one char per line in MMOCR's dicts/)."""
DICT36 = "0123456789abcdefghijklmnopqrstuvwxyz"  # dicts/lower_english_digits.txt
DICT90 = (
    DICT36
    + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    + "!\"#$%&'()*+,-./:;<=>?@[\\]_`~"
)  # dicts/english_digits_symbols.txt

CHARSETS = {"lower_english_digits": DICT36, "english_digits_symbols": DICT90}
