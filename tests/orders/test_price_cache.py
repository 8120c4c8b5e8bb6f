"""The reference fix's price cache: prices expire, and the cache's size stays bounded."""

import importlib.util
import time
from decimal import Decimal
from types import ModuleType

from tests.conftest import REPO


def fixed_pricing() -> ModuleType:
    """services/orders/pricing.py as the n-plus-one reference fix writes it."""
    path = REPO / "solutions" / "n-plus-one" / "services" / "orders" / "pricing.py"
    spec = importlib.util.spec_from_file_location("fixed_pricing", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_cached_price_is_served_until_it_expires() -> None:
    cache = fixed_pricing().PriceCache(ttl_s=0.05)

    cache.put_many({"SKU-00001": Decimal("1.99")})

    assert cache.get_many(["SKU-00001", "SKU-00002"]) == {"SKU-00001": Decimal("1.99")}
    time.sleep(0.06)
    assert cache.get_many(["SKU-00001"]) == {}


def test_the_cache_never_holds_more_than_its_bound() -> None:
    cache = fixed_pricing().PriceCache(ttl_s=60, max_entries=3)

    cache.put_many({f"SKU-{n:05d}": Decimal(n) for n in range(3)})
    cache.put_many({"SKU-99999": Decimal("9.99")})

    assert cache.get_many(f"SKU-{n:05d}" for n in range(3)) == {}
    assert cache.get_many(["SKU-99999"]) == {"SKU-99999": Decimal("9.99")}
