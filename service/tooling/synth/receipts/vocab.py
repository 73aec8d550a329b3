"""Word lists the receipt content is drawn from (invented names; no real receipt copied)."""
from __future__ import annotations

STORE_FIRST = (
    "Green", "Sunny", "Blue", "Golden", "Maple", "Oak", "River", "Harbor", "Corner", "Main Street",
    "Village", "Urban", "Fresh", "Happy", "Lucky", "Silver", "Red", "North", "Westside", "Eastgate",
    "Pine", "Hilltop", "Lakeside", "Bay", "Cedar", "Union", "Park", "Royal", "Little", "Big",
    "Family", "Daily", "Star", "Sunrise", "Twin", "Old Town", "Mountain", "Coastal", "Metro",
)
STORE_SECOND = (
    "Valley", "Leaf", "Bean", "Garden", "Table", "Fork", "Spoon", "Basket", "Barrel", "Oven",
    "Kettle", "Bridge", "Field", "Grove", "Point", "Square", "Mill", "Farm", "Harvest", "Orchard",
)
STORE_KIND = {
    "grocery": ("Market", "Foods", "Grocery", "Supermarket", "Food Store", "Mart", "Fresh Market"),
    "restaurant": ("Cafe", "Bistro", "Diner", "Grill", "Kitchen", "Pizzeria", "Noodle House",
                   "Taqueria", "Sushi Bar", "Steakhouse", "Bakery", "Coffee Co."),
    "retail": ("Hardware", "Outlet", "Books", "Home & Garden", "Pet Supply", "Electronics",
               "Sports", "Pharmacy", "Drug Store", "Gifts", "Office Supply"),
}
OWNERS = ("Tony's", "Joe's", "Mama Rosa's", "Sam's", "Lee's", "Maria's", "Ali's", "Nick's", "Big Al's",
          "Hank's", "Rosie's", "Kim's", "Luigi's", "Pablo's", "Annie's", "The Daily", "The Corner")
BRANDLIKE = ("QUIKMART", "SAVEMORE", "FOODLAND", "VALUEPLUS", "SHOPRITE-ON", "BUYWELL", "NORTHMART",
             "FRESHCO", "DAILYMART", "PRICEWISE", "MEGAVALUE", "CITYMARKET", "HOMEPLUS", "TOPSAVE")

US_STREETS = ("Main", "Oak", "Maple", "Washington", "Lincoln", "Park", "Elm", "Cedar", "Pine",
              "Lake", "Hill", "Sunset", "Highland", "Jefferson", "Franklin", "Madison", "Broadway",
              "Market", "Church", "Spring", "Ridge", "Valley", "Center", "Mill", "Walnut", "Chestnut")
US_SUFFIX = ("St", "St.", "Street", "Ave", "Ave.", "Avenue", "Blvd", "Blvd.", "Rd", "Road", "Dr",
             "Drive", "Hwy", "Pkwy", "Ln", "Way", "Ct")
US_CITIES = (("Springfield", "IL"), ("Riverside", "CA"), ("Fairview", "TX"), ("Madison", "WI"),
             ("Georgetown", "KY"), ("Salem", "OR"), ("Franklin", "TN"), ("Clinton", "IA"),
             ("Arlington", "VA"), ("Greenville", "SC"), ("Bristol", "CT"), ("Dover", "DE"),
             ("Auburn", "AL"), ("Oxford", "MS"), ("Burlington", "VT"), ("Portland", "ME"),
             ("Ashland", "OH"), ("Milton", "MA"), ("Newport", "RI"), ("Kingston", "NY"),
             ("Denver", "CO"), ("Austin", "TX"), ("Tucson", "AZ"), ("Reno", "NV"), ("Boise", "ID"))
UK_STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Victoria Road",
              "Queens Road", "King Street", "The Parade", "Market Place", "London Road",
              "Park Lane", "Bridge Street", "North Street", "West End", "Green Lane")
UK_TOWNS = ("London", "Leeds", "Bristol", "York", "Bath", "Leicester", "Norwich", "Cardiff",
            "Reading", "Brighton", "Oxford", "Cambridge", "Exeter", "Derby", "Glasgow")
EU_STREETS = ("Hauptstrasse", "Bahnhofstrasse", "Rue de la Paix", "Via Roma", "Kerkstraat",
              "Marktplatz", "Gartenweg", "Rue du Marche", "Calle Mayor", "Dorfstrasse",
              "Lindenallee", "Avenue Victor Hugo", "Schulstrasse", "Via Garibaldi")
EU_TOWNS = ("Berlin", "Hamburg", "Munich", "Paris", "Lyon", "Milano", "Roma", "Madrid",
            "Amsterdam", "Utrecht", "Wien", "Bruxelles", "Koeln", "Bordeaux", "Valencia")

ITEMS = {
    "grocery": ("Bananas", "Whole Milk 1 gal", "Large Eggs 12ct", "White Bread", "Orange Juice",
                "Cheddar Cheese", "Greek Yogurt", "Chicken Breast", "Ground Beef", "Apples Gala",
                "Baby Spinach", "Tomatoes Roma", "Pasta Penne", "Rice Jasmine 2lb", "Olive Oil",
                "Butter Unsalted", "Coffee Ground", "Paper Towels", "Dish Soap", "Cereal Oats",
                "Avocado", "Lemons", "Strawberries", "Potato Chips", "Sparkling Water", "Bagels",
                "Peanut Butter", "Frozen Peas", "Ice Cream", "Salmon Fillet", "Carrots 2lb",
                "Onions Yellow", "Garlic", "Tortillas", "Salsa Mild", "Cookies Choc Chip",
                "Broccoli Crowns", "Cucumber", "Bell Pepper Red", "Mushrooms White", "Blueberries",
                "Grapes Red Seedless", "Sour Cream", "Cream Cheese", "Mozzarella", "Bacon Thick Cut",
                "Turkey Deli Sliced", "Hot Dogs", "Canned Tuna", "Black Beans", "Chicken Broth",
                "Tomato Sauce", "Flour All Purpose", "Sugar Granulated", "Honey", "Maple Syrup",
                "Granola Bars", "Crackers", "Toilet Tissue 12pk", "Laundry Detergent", "Trash Bags",
                "Aluminum Foil", "Bottled Water 24pk", "Cola 12pk", "Frozen Pizza", "Waffles Frozen",
                "Almond Milk", "Sandwich Bread Wheat", "Pretzels", "Hummus", "Kale Bunch"),
    "restaurant": ("Cheeseburger", "Caesar Salad", "Fish Tacos", "Chicken Wings", "French Fries",
                   "Margherita Pizza", "Pad Thai", "Ramen Tonkotsu", "Club Sandwich", "Iced Tea",
                   "Soda", "Latte", "Cappuccino", "Espresso", "Pancakes", "Omelette", "Fried Rice",
                   "Spring Rolls", "Garlic Bread", "Tomato Soup", "Grilled Salmon", "Ribeye Steak",
                   "Lemonade", "Draft Beer", "House Wine", "Brownie", "Cheesecake", "Nachos",
                   "Burrito Bowl", "Side Salad", "Hot Chocolate", "Croissant", "Muffin Blueberry",
                   "Chicken Parmesan", "Spaghetti Bolognese", "Lasagna", "BBQ Ribs", "Pulled Pork",
                   "Veggie Burger", "Onion Rings", "Mozzarella Sticks", "Wonton Soup", "Kung Pao Chicken",
                   "Beef Pho", "Chicken Curry", "Naan", "Samosa", "Falafel Wrap", "Gyro Plate",
                   "Eggs Benedict", "French Toast", "Bagel Lox", "Smoothie Berry", "Cold Brew",
                   "Americano", "Chai Latte", "Green Tea", "Milkshake Vanilla", "Apple Pie",
                   "Tiramisu", "Kids Meal", "Extra Cheese", "Add Avocado"),
    "retail": ("USB Cable", "AA Batteries 8pk", "Notebook A5", "Ballpoint Pens", "Light Bulb LED",
               "Screwdriver Set", "Duct Tape", "Dog Food 5lb", "Cat Litter", "Shampoo", "Toothpaste",
               "Vitamins C", "Pain Relief 24ct", "Phone Case", "Water Bottle", "T-Shirt", "Socks 3pk",
               "Greeting Card", "Gift Bag", "Candle Vanilla", "Picture Frame", "Garden Gloves",
               "Hand Sanitizer", "Sunscreen SPF30", "Tennis Balls", "Paint Brush", "Extension Cord",
               "HDMI Cable 6ft", "Mouse Wireless", "Printer Paper", "Stapler", "Sticky Notes",
               "Wood Screws 100pk", "Hammer 16oz", "Tape Measure", "Potting Soil", "Plant Pot",
               "Bird Seed", "Dog Treats", "Cat Food Can", "Leash Nylon", "Cough Syrup",
               "Bandages 30ct", "Allergy Relief", "Lip Balm", "Deodorant", "Razor Blades",
               "Jeans Slim", "Hoodie", "Baseball Cap", "Yoga Mat", "Paperback Novel", "Puzzle 1000pc",
               "Phone Charger", "Earbuds", "Smoke Detector", "Air Filter"),
}
PAYMENTS = ("VISA", "MASTERCARD", "AMEX", "DEBIT", "CASH", "CREDIT", "Card", "Contactless")
CASHIERS = ("Maria", "John", "Alex", "Sam", "Priya", "Chen", "Lucas", "Emma", "Omar", "Kim", "Jose")
THANKS = ("THANK YOU", "Thank you!", "THANK YOU FOR SHOPPING", "Please come again",
          "Thanks for your visit", "HAVE A NICE DAY", "See you soon!", "Thank You Come Again",
          "We appreciate your business", "Customer Copy", "** CUSTOMER COPY **")
FOOTERS = ("Returns accepted within 30 days with receipt", "Save your receipt",
           "Tell us how we did", "Follow us online", "No refunds on sale items",
           "Keep this receipt for warranty", "Rate your visit at our website",
           "Free WiFi for customers", "Ask about our loyalty card", "Exchange within 14 days")

KEYS = {
    "store": ("Store:", "Merchant:", "Shop:"),
    "addr": ("Address:", "Addr:", "Location:"),
    "tel": ("Tel:", "TEL", "Phone:", "PHONE", "Ph:", "Tel.", "Telephone:", "T:"),
    "date": ("Date:", "DATE", "Date", "Dt:", "DATE:"),
    "time": ("Time:", "TIME", "Time", "TIME:"),
    "item": ("ITEM", "Item", "DESCRIPTION", "Description", "Product", "ITEMS"),
    "qty": ("QTY", "Qty", "Q", "QUANTITY", "Qnty"),
    "price": ("PRICE", "Price", "AMOUNT", "Amount", "AMT", "Total"),
    "subtotal": ("SUBTOTAL", "Subtotal", "Sub Total", "SUB-TOTAL", "Sub-total", "NET TOTAL",
                 "Total before tax"),
    "tax": ("TAX", "Tax", "Sales Tax", "SALES TAX", "VAT", "GST", "HST", "Tax 1"),
    "tips": ("TIP", "Tip", "Tips", "GRATUITY", "Gratuity", "Service Charge"),
    "total": ("TOTAL", "Total", "Total Due", "AMOUNT DUE", "BALANCE DUE", "Grand Total",
              "TOTAL DUE", "Amount", "TOTAL AMOUNT", "To Pay"),
}
SAVINGS = ("Card Savings", "You Saved", "COUPON", "Promo", "Member Discount", "SALE", "Instant Savings",
           "Discount", "Loyalty Savings", "MFR COUPON")
