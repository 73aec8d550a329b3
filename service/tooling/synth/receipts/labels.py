"""The 26 WildReceipt classes, with the ids and names of its class_list.txt."""
from __future__ import annotations

CLASS_NAMES = (
    "Ignore", "Store_name_value", "Store_name_key", "Store_addr_value", "Store_addr_key",
    "Tel_value", "Tel_key", "Date_value", "Date_key", "Time_value", "Time_key",
    "Prod_item_value", "Prod_item_key", "Prod_quantity_value", "Prod_quantity_key",
    "Prod_price_value", "Prod_price_key", "Subtotal_value", "Subtotal_key", "Tax_value", "Tax_key",
    "Tips_value", "Tips_key", "Total_value", "Total_key", "Others",
)
CLASS_ID = {name: i for i, name in enumerate(CLASS_NAMES)}
IGNORE, OTHERS = 0, 25

# field name used by the content/layout code -> (value id, key id)
FIELD_IDS = {
    "store": (1, 2), "addr": (3, 4), "tel": (5, 6), "date": (7, 8), "time": (9, 10),
    "item": (11, 12), "qty": (13, 14), "price": (15, 16), "subtotal": (17, 18), "tax": (19, 20),
    "tips": (21, 22), "total": (23, 24),
}


def class_list_text() -> str:
    """The class list in MMOCR's class_list.txt format: one ``id name`` per line."""
    return "".join(f"{i} {name}\n" for i, name in enumerate(CLASS_NAMES))
