"""Product lookups, one at a time or in batches; each call pays the catalog's latency once."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.catalog.products import Product, catalog
from services.catalog.schemas import ProductBatchIn, ProductBatchOut, ProductOut
from services.kit.errors import Problem

router = APIRouter(prefix="/v1/products", tags=["products"])


def _out(product: Product) -> ProductOut:
    return ProductOut(sku=product.sku, name=product.name, price=f"{product.price:.2f}")


async def _remote_delay(request: Request) -> None:
    await asyncio.sleep(request.app.state.settings.catalog_latency_ms / 1000)


# /batch is declared before /{sku}: a request for /batch with another method (OPTIONS, say) gets
# its 405 from the first route whose path matches, and its Allow must name POST, not GET.
@router.post("/batch", response_model=ProductBatchOut, responses={422: {}})
async def get_products(body: ProductBatchIn, request: Request) -> Response:
    """Up to 500 products in one call; unknown SKUs are listed in `missing`."""
    await _remote_delay(request)
    products = catalog()
    wanted = list(dict.fromkeys(body.skus))
    answer = ProductBatchOut(
        products=[_out(products[sku]) for sku in wanted if sku in products],
        missing=[sku for sku in wanted if sku not in products],
    )
    # Serialized once, by pydantic-core: the response-model round trip would cost the catalog
    # more CPU than its simulated latency, and the drill is about the latency.
    return Response(answer.model_dump_json(), media_type="application/json")


@router.get("/{sku}", responses={404: {}})
async def get_product(sku: str, request: Request) -> ProductOut:
    """One product and its unit price."""
    await _remote_delay(request)
    product = catalog().get(sku)
    if product is None:
        raise Problem(404, "unknown_sku", "No such product", f"the catalog has no {sku!r}")
    return _out(product)
