"""The product catalog: a fixed, deterministic list of products with prices in whole cents.

The orders seed draws its order lines' SKUs from here, and catalog prices them, so the two
always agree.
"""

import functools
import random
from dataclasses import dataclass
from decimal import Decimal

SEED = 6_3  # the seed's scenario number, 6.3
CATALOG_SIZE = 25_000
_ADJECTIVES = ("Compact", "Deluxe", "Eco", "Heavy-duty", "Mini", "Pro", "Smart", "Travel")
_NOUNS = ("Blender", "Cable", "Charger", "Desk Lamp", "Headset", "Kettle", "Mug", "Notebook")


@dataclass(frozen=True)
class Product:
    """One product as the catalog sells it."""

    sku: str
    name: str
    price: Decimal


def sku_of(number: int) -> str:
    """The SKU of the product with this number (1 .. CATALOG_SIZE)."""
    return f"SKU-{number:05d}"


@functools.cache
def catalog() -> dict[str, Product]:
    """Every product, by SKU (made once per process; the same on every start)."""
    rng = random.Random(SEED)  # noqa: S311 - deterministic catalog, nothing secret
    products = {}
    for number in range(1, CATALOG_SIZE + 1):
        cents = rng.randint(99, 499_99)
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {number}"
        products[sku_of(number)] = Product(sku_of(number), name, Decimal(cents).scaleb(-2))
    return products
