"""Default simulated world: fixed ids and fake credentials. Every value here is synthetic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Platform = Literal["facebook", "x"]
PLATFORMS: Final[tuple[Platform, ...]] = ("facebook", "x")

GRAPH_VERSION: Final = "v26.0"
# The oldest Graph version still served on 2026-11-29; older paths are upgraded to it.
GRAPH_OLDEST_ALIVE: Final = "v21.0"

# Facebook: one app, one Page. Ids are strings, like the Graph API's.
FB_APP_ID: Final = "990000000000001"
FB_APP_SECRET: Final = "sim-app-secret-0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # noqa: S105 - simulated
FB_APP_NAME: Final = "Haven Simulator App"
FB_PAGE_ID: Final = "110000000000001"
FB_PAGE_NAME: Final = "Haven Demo Shop"
FB_PAGE_TOKEN: Final = "EAASIM-page-token-haven-demo-shop-0000000000000001"  # noqa: S105 - simulated
FB_PAGE_SCOPES: Final = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_read_user_content",
    "pages_manage_engagement",
    "pages_manage_metadata",
    "pages_messaging",
    "public_profile",
)

# X: one brand account and one app.
X_BRAND_ID: Final = "1700000000000000001"
X_BRAND_USERNAME: Final = "HavenDemoShop"
X_BRAND_NAME: Final = "Haven Demo Shop"
X_CONSUMER_KEY: Final = "simConsumerKeyHavenDemo0001"
X_CONSUMER_SECRET: Final = "simConsumerSecretHavenDemo00000000000000000000001"  # noqa: S105 - simulated
X_ACCESS_TOKEN: Final = f"{X_BRAND_ID}-simAccessTokenHavenDemo000001"
X_ACCESS_TOKEN_SECRET: Final = "simAccessTokenSecretHavenDemo0000000000000001"  # noqa: S105 - simulated
X_BEARER_TOKEN: Final = "AAAAAAAAAAAAAAAAAAAAASIM%2Fapp-only-bearer-haven-demo-0001"  # noqa: S105 - simulated
X_OAUTH2_USER_TOKEN: Final = "simOAuth2UserTokenHavenDemo0001"  # noqa: S105 - simulated
# "Sign in with X" (OAuth 2.0 Authorization Code with PKCE): the app's confidential client, and a
# public client (no secret) for the same app.
X_OAUTH2_CLIENT_ID: Final = "c2ltT0F1dGgyQ2xpZW50SGF2ZW5EZW1vOjE6Y2k"
X_OAUTH2_CLIENT_SECRET: Final = "simOAuth2ClientSecretHavenDemo000000001"  # noqa: S105 - simulated
X_OAUTH2_PUBLIC_CLIENT_ID: Final = "c2ltT0F1dGgyUHVibGljSGF2ZW5EZW1vOjE6Y2k"

# First ids handed out for objects created while the simulator runs.
FB_OBJECT_ID_START: Final = 200000000000001
X_ID_START: Final = 1860000000000000001


@dataclass(frozen=True, slots=True)
class Customer:
    """A synthetic customer present on both platforms."""

    key: str
    name: str
    locale: str
    fb_id: str
    x_id: str
    x_username: str
    x_dm_open: bool = True


CUSTOMERS: Final[tuple[Customer, ...]] = (
    Customer(
        "lena", "Lena Sommerfeld", "de", "3100000000000001", "1710000000000000001", "lena_sfeld"
    ),
    Customer("tom", "Tom Ashdown", "en", "3100000000000002", "1710000000000000002", "tomashdown_x"),
    Customer(
        "camille", "Camille Vasseur", "fr", "3100000000000003", "1710000000000000003", "cvasseur"
    ),
    Customer(
        "diego", "Diego Marbella", "es", "3100000000000004", "1710000000000000004", "dmarbella"
    ),
    Customer(
        "giulia", "Giulia Ferrante", "it", "3100000000000005", "1710000000000000005", "giuferr"
    ),
    Customer(
        "sanne", "Sanne de Vriesland", "nl", "3100000000000006", "1710000000000000006", "sannedv"
    ),
    # Accepts no DMs from the brand: sending one is refused with 403.
    Customer(
        "quinn",
        "Quinn Halloway",
        "en",
        "3100000000000007",
        "1710000000000000007",
        "quinn_h",
        x_dm_open=False,
    ),
)

# Seeded page posts: (object id, message, age in hours).
SEED_POSTS: Final[tuple[tuple[str, str, int], ...]] = (
    ("150000000000001", "Our winter collection is here. Free delivery this week!", 72),
    ("150000000000002", "Store hours over the holidays: see the pinned post.", 30),
    ("150000000000003", "New: track your parcel in the app.", 6),
)

# Seeded brand tweets: (id, text, age in hours).
SEED_TWEETS: Final[tuple[tuple[str, str, int], ...]] = (
    ("1850000000000000001", "Our winter collection is here. Free delivery this week!", 72),
    ("1850000000000000002", "Parcel tracking is now in the app. Questions? Ask us here.", 6),
)


def default_credentials(platform: Platform) -> dict[str, str]:
    """Return the credentials dict a connector needs for the default world (all simulated).

    facebook: page_id, page_access_token, app_id, app_secret.
    x: user_id, username, consumer_key, consumer_secret, access_token, access_token_secret,
    bearer_token (app-only), oauth2_user_token (OAuth 2.0 user context), oauth2_client_id and
    oauth2_client_secret (the confidential OAuth 2.0 client that "Sign in with X" uses).
    """
    if platform == "facebook":
        return {
            "page_id": FB_PAGE_ID,
            "page_access_token": FB_PAGE_TOKEN,
            "app_id": FB_APP_ID,
            "app_secret": FB_APP_SECRET,
        }
    if platform == "x":
        return {
            "user_id": X_BRAND_ID,
            "username": X_BRAND_USERNAME,
            "consumer_key": X_CONSUMER_KEY,
            "consumer_secret": X_CONSUMER_SECRET,
            "access_token": X_ACCESS_TOKEN,
            "access_token_secret": X_ACCESS_TOKEN_SECRET,
            "bearer_token": X_BEARER_TOKEN,
            "oauth2_user_token": X_OAUTH2_USER_TOKEN,
            "oauth2_client_id": X_OAUTH2_CLIENT_ID,
            "oauth2_client_secret": X_OAUTH2_CLIENT_SECRET,
        }
    raise ValueError(f"unknown platform {platform!r}")


def customer_by_key(key: str) -> Customer:
    """Return the seeded customer with this key. Raises KeyError."""
    for customer in CUSTOMERS:
        if customer.key == key:
            return customer
    raise KeyError(key)
