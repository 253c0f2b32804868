"""Data the demo generator draws from: names, places, products and carriers per market."""

from __future__ import annotations

from typing import NamedTuple


class Place(NamedTuple):
    """A city with its state and a postcode prefix to build valid-looking postcodes from."""

    city: str
    state: str
    postcode_prefix: str


class Product(NamedTuple):
    """A sellable item; prices are in the brand's home currency's major units."""

    sku: str
    name: str
    price: float


FIRST_NAMES = {
    "hi": [
        "Aarav",
        "Priya",
        "Rohit",
        "Sunita",
        "Vikram",
        "Neha",
        "Arjun",
        "Kavita",
        "Rahul",
        "Pooja",
        "Manoj",
        "Anjali",
        "Sanjay",
        "Ritu",
        "Deepak",
        "Meena",
        "Amit",
        "Shalini",
    ],
    "en": [
        "Ananya",
        "Karan",
        "Meera",
        "Nikhil",
        "Sneha",
        "Aditya",
        "Ishita",
        "Rohan",
        "Tara",
        "Vivek",
        "Farah",
        "Joseph",
        "Sarah",
        "Daniel",
        "Aisha",
        "Kevin",
        "Nadia",
        "Ryan",
    ],
    "id": [
        "Budi",
        "Siti",
        "Agus",
        "Dewi",
        "Rizky",
        "Putri",
        "Andi",
        "Rina",
        "Fajar",
        "Ayu",
        "Dimas",
        "Wulan",
        "Hendra",
        "Lestari",
        "Yoga",
        "Intan",
        "Bayu",
        "Maya",
    ],
    "ms": [
        "Ahmad",
        "Nurul",
        "Hafiz",
        "Siti",
        "Amirul",
        "Aisyah",
        "Faizal",
        "Farah",
        "Syafiq",
        "Zulaikha",
        "Hakim",
        "Nadia",
        "Irfan",
        "Liyana",
        "Danial",
        "Izzati",
        "Azlan",
        "Hana",
    ],
}
LAST_NAMES = {
    "hi": [
        "Sharma",
        "Verma",
        "Gupta",
        "Yadav",
        "Singh",
        "Mishra",
        "Pandey",
        "Tiwari",
        "Chauhan",
        "Joshi",
        "Agarwal",
        "Srivastava",
    ],
    "en": [
        "Iyer",
        "Menon",
        "D'Souza",
        "Kapoor",
        "Reddy",
        "Nair",
        "Fernandes",
        "Bose",
        "Das",
        "Pillai",
        "Tan",
        "Lim",
    ],
    "id": [
        "Santoso",
        "Wijaya",
        "Pratama",
        "Saputra",
        "Hidayat",
        "Kusuma",
        "Nugroho",
        "Lubis",
        "Siregar",
        "Setiawan",
        "Wibowo",
        "Halim",
    ],
    "ms": [
        "Abdullah",
        "Ismail",
        "Rahman",
        "Hassan",
        "Ibrahim",
        "Osman",
        "Yusof",
        "Aziz",
        "Hamid",
        "Salleh",
        "Othman",
        "Zakaria",
    ],
}
PLACES = {
    "IN": [
        Place("New Delhi", "Delhi", "1100"),
        Place("Mumbai", "Maharashtra", "4000"),
        Place("Bengaluru", "Karnataka", "5600"),
        Place("Lucknow", "Uttar Pradesh", "2260"),
        Place("Jaipur", "Rajasthan", "3020"),
        Place("Patna", "Bihar", "8000"),
        Place("Indore", "Madhya Pradesh", "4520"),
        Place("Kolkata", "West Bengal", "7000"),
        Place("Chennai", "Tamil Nadu", "6000"),
        Place("Pune", "Maharashtra", "4110"),
    ],
    "ID": [
        Place("Jakarta Selatan", "DKI Jakarta", "121"),
        Place("Surabaya", "Jawa Timur", "602"),
        Place("Bandung", "Jawa Barat", "401"),
        Place("Medan", "Sumatera Utara", "201"),
        Place("Makassar", "Sulawesi Selatan", "902"),
        Place("Yogyakarta", "DI Yogyakarta", "552"),
    ],
    "MY": [
        Place("Kuala Lumpur", "Wilayah Persekutuan", "50"),
        Place("Shah Alam", "Selangor", "40"),
        Place("George Town", "Pulau Pinang", "10"),
        Place("Johor Bahru", "Johor", "80"),
        Place("Kota Bharu", "Kelantan", "15"),
        Place("Kuching", "Sarawak", "93"),
    ],
}
STREETS = {
    "IN": ["MG Road", "Station Road", "Sector 12", "Civil Lines", "Gandhi Nagar", "Nehru Colony"],
    "ID": ["Jl. Sudirman", "Jl. Merdeka", "Jl. Diponegoro", "Jl. Gatot Subroto", "Jl. Ahmad Yani"],
    "MY": ["Jalan Ampang", "Jalan Tun Razak", "Jalan Bukit Bintang", "Jalan Sultan Ismail"],
}
TIME_ZONES = {"IN": "Asia/Kolkata", "ID": "Asia/Jakarta", "MY": "Asia/Kuala_Lumpur"}
PHONE_PREFIX = {"IN": "+91", "ID": "+62", "MY": "+60"}
CURRENCY = {"IN": "INR", "ID": "IDR", "MY": "MYR"}
# Rough exchange rates, to price one catalogue in every market currency.
CURRENCY_PER_INR = {"INR": 1.0, "MYR": 0.055, "IDR": 190.0}
CARRIERS = {
    "IN": ["delhivery", "bluedart", "xpressbees", "indiapost"],
    "ID": ["jne", "jnt_id", "sicepat"],
    "MY": ["posmalaysia", "ninjavan_my", "jnt_my"],
}
EMAIL_DOMAINS = {
    "IN": ["gmail.com", "yahoo.co.in", "outlook.com", "rediffmail.com"],
    "ID": ["gmail.com", "yahoo.co.id", "outlook.com"],
    "MY": ["gmail.com", "yahoo.com.my", "hotmail.com"],
}
# Which markets and languages each demo brand sells to: (country, language, weight).
MARKETS = {
    "kapas": [("IN", "hi", 5), ("IN", "en", 5)],
    "seri": [("MY", "ms", 5), ("ID", "id", 4), ("MY", "en", 2)],
    "griha": [("IN", "en", 3), ("IN", "hi", 3), ("ID", "id", 2), ("MY", "ms", 2)],
}
PRODUCTS = {
    "kapas": [
        Product("KAP-KRT-014", "Indigo block-print kurta", 1499),
        Product("KAP-SAR-201", "Chanderi cotton saree", 3299),
        Product("KAP-DUP-033", "Mulmul dupatta", 799),
        Product("KAP-SHR-112", "Khadi linen shirt", 1899),
        Product("KAP-PAL-045", "Printed palazzo pants", 999),
        Product("KAP-KID-007", "Kids' cotton kurta set", 1199),
    ],
    "seri": [
        Product("SERI-SRM-01", "Niacinamide brightening serum 30ml", 89),
        Product("SERI-SUN-02", "SPF50 daily sunscreen gel", 59),
        Product("SERI-LIP-07", "Matte lip cream, shade Rose", 39),
        Product("SERI-CLN-03", "Gentle gel cleanser", 45),
        Product("SERI-TON-05", "Hydrating rice toner", 69),
    ],
    "griha": [
        Product("GRH-BED-101", "Percale bedsheet set, queen", 2499),
        Product("GRH-CKW-220", "Cast-iron kadai 26cm", 1899),
        Product("GRH-LMP-031", "Rattan table lamp", 2999),
        Product("GRH-RUG-044", "Hand-woven cotton dhurrie 5x7", 3499),
        Product("GRH-TWL-012", "Bamboo bath towel pair", 1299),
    ],
}
