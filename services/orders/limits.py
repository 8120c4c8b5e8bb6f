"""How much the orders API shows at once."""

# A batch shows each user's most recent orders, this many at most (a dashboard's summary).
RECENT_ORDERS = 5
# Pages of one user's orders.
DEFAULT_PAGE = 20
MAX_PAGE = 50
