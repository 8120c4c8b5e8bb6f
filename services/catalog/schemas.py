"""Catalog's request and response bodies."""

from pydantic import BaseModel, Field

# The most SKUs one batch call may ask for.
MAX_BATCH_SKUS = 500


class ProductOut(BaseModel):
    """A product and its current unit price."""

    sku: str
    name: str
    price: str = Field(description='Unit price as a decimal string, e.g. "12.30".')


class ProductBatchIn(BaseModel):
    """SKUs to look up in one call."""

    skus: list[str] = Field(min_length=1, max_length=MAX_BATCH_SKUS)


class ProductBatchOut(BaseModel):
    """The products found, and the SKUs the catalog does not know."""

    products: list[ProductOut]
    missing: list[str]
