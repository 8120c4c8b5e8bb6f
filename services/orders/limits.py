"""How much the orders API shows at once, and which user ids it takes."""

from services.kit.db import INTEGER_MAX

# A batch shows each user's most recent orders, this many at most (a dashboard's summary).
RECENT_ORDERS = 5
# Pages of one user's orders.
DEFAULT_PAGE = 20
MAX_PAGE = 50
# User ids are the users table's INTEGER ids. An id outside that range can name no user: it is
# refused with a 422 before any query, never handed to a driver that cannot bind it (PostgreSQL's
# INTEGER stops at 32 bits: a 500).
USER_ID_MAX = INTEGER_MAX
USER_ID_MIN = -INTEGER_MAX - 1
