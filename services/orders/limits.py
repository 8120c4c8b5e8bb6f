"""How much the orders API shows at once."""

# A batch shows each user's most recent orders, this many at most (a dashboard's summary).
RECENT_ORDERS = 5
# Pages of one user's orders.
DEFAULT_PAGE = 20
MAX_PAGE = 50
# User ids are integers a JSON client can hold exactly (I-JSON, RFC 7493: +-(2**53 - 1)), which
# every database of the lab can bind as well. An id outside that range can name no user: it is
# refused with a 422 before any query, never handed to a driver that cannot bind it (SQLite's
# stops at 64 bits: a 500). The bound is also exact as a double, the type FastAPI's OpenAPI
# document gives every minimum and maximum.
USER_ID_MAX = 2**53 - 1
USER_ID_MIN = -USER_ID_MAX
