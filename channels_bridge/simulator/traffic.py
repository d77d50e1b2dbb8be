"""Synthetic customer traffic for the simulator: multilingual messages, some with fake PII."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass

from channels_bridge.simulator import world
from channels_bridge.simulator.state import Simulator

logger = logging.getLogger(__name__)

LOCALES = ("en", "de", "fr", "es", "it", "nl")
PII_KINDS = ("email", "phone", "order", "card", "iban", "name")

# Plain support messages without personal data, per locale.
_BASE: dict[str, tuple[str, ...]] = {
    "en": (
        "My parcel still hasn't arrived, can you check?",
        "I was charged twice for the same order.",
        "The jacket I got is the wrong size, how do I return it?",
        "Your app keeps logging me out when I pay.",
        "Is the winter sale also valid in the stores?",
        "Nobody answered my e-mail from last week.",
    ),
    "de": (
        "Mein Paket ist immer noch nicht angekommen, könnt ihr nachsehen?",
        "Mir wurde dieselbe Bestellung zweimal abgebucht.",
        "Die Jacke ist zu klein, wie kann ich sie umtauschen?",
        "Die App meldet mich beim Bezahlen ständig ab.",
        "Gilt der Winterschlussverkauf auch in den Filialen?",
    ),
    "fr": (
        "Mon colis n'est toujours pas arrivé, pouvez-vous vérifier ?",
        "J'ai été débité deux fois pour la même commande.",
        "La veste reçue n'est pas à ma taille, comment la retourner ?",
        "L'application me déconnecte à chaque paiement.",
    ),
    "es": (
        "Mi paquete todavía no ha llegado, ¿podéis revisarlo?",
        "Me habéis cobrado dos veces el mismo pedido.",
        "La chaqueta es de otra talla, ¿cómo la devuelvo?",
        "La aplicación me cierra la sesión al pagar.",
    ),
    "it": (
        "Il mio pacco non è ancora arrivato, potete controllare?",
        "Mi avete addebitato due volte lo stesso ordine.",
        "La giacca è della taglia sbagliata, come faccio il reso?",
        "L'app mi disconnette quando pago.",
    ),
    "nl": (
        "Mijn pakket is nog steeds niet aangekomen, kunnen jullie kijken?",
        "Ik heb twee keer betaald voor dezelfde bestelling.",
        "De jas is de verkeerde maat, hoe stuur ik hem terug?",
        "De app logt me steeds uit bij het betalen.",
    ),
}

# One phrase per kind of personal data, per locale; {v} is the synthetic value.
_PII: dict[str, dict[str, str]] = {
    "en": {
        "email": "You can reach me at {v}.",
        "phone": "Please call me back on {v}.",
        "order": "My order number is {v}.",
        "card": "I paid with my card {v}.",
        "iban": "Please refund to {v}.",
        "name": "My name is {v}.",
    },
    "de": {
        "email": "Meine E-Mail ist {v}.",
        "phone": "Ruft mich bitte unter {v} zurück.",
        "order": "Meine Bestellnummer ist {v}.",
        "card": "Bezahlt habe ich mit der Karte {v}.",
        "iban": "Bitte erstattet das Geld auf {v}.",
        "name": "Ich heiße {v}.",
    },
    "fr": {
        "email": "Mon adresse e-mail : {v}.",
        "phone": "Rappelez-moi au {v}.",
        "order": "Mon numéro de commande est {v}.",
        "card": "J'ai payé avec la carte {v}.",
        "iban": "Merci de rembourser sur {v}.",
        "name": "Je m'appelle {v}.",
    },
    "es": {
        "email": "Mi correo es {v}.",
        "phone": "Llamadme al {v}.",
        "order": "Mi número de pedido es {v}.",
        "card": "Pagué con la tarjeta {v}.",
        "iban": "Devolvedme el dinero a {v}.",
        "name": "Me llamo {v}.",
    },
    "it": {
        "email": "La mia email è {v}.",
        "phone": "Richiamatemi al {v}.",
        "order": "Il mio numero d'ordine è {v}.",
        "card": "Ho pagato con la carta {v}.",
        "iban": "Rimborsate su {v}.",
        "name": "Mi chiamo {v}.",
    },
    "nl": {
        "email": "Mijn e-mail is {v}.",
        "phone": "Bel me terug op {v}.",
        "order": "Mijn bestelnummer is {v}.",
        "card": "Ik heb betaald met kaart {v}.",
        "iban": "Stort het terug op {v}.",
        "name": "Mijn naam is {v}.",
    },
}

_FIRST = ("Alex", "Sam", "Robin", "Kim", "Noa", "Jules", "Mika", "Eli")
_LAST = ("Brightwater", "Feldmann", "Lacombe", "Ortega", "Moretti", "Van Dam", "Holloway")


@dataclass(frozen=True, slots=True)
class SyntheticMessage:
    """A generated customer message and the kinds of fake personal data it carries."""

    locale: str
    text: str
    pii: tuple[str, ...]


def luhn_complete(digits: str) -> str:
    """Append the Luhn check digit to a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def iban_complete(country: str, bban: str) -> str:
    """Build an IBAN with valid ISO 13616 check digits from a country code and BBAN."""
    rearranged = bban + country + "00"
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    check = 98 - int(numeric) % 97
    return f"{country}{check:02d}{bban}"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def fake_value(rng: random.Random, kind: str, locale: str) -> str:
    """A synthetic value of one kind: reserved domains, fictional number ranges, test-style ids."""
    if kind == "email":
        domain = rng.choice(("example.com", "example.org", "example.net"))
        return (
            f"{rng.choice(_FIRST).lower()}.{rng.choice(_LAST).lower().replace(' ', '')}"
            f"{rng.randrange(10, 99)}@{domain}"
        )
    if kind == "phone":
        # Ranges reserved for fiction where the country has one (UK, FR, US 555-01xx).
        n3 = f"{rng.randrange(1000):03d}"
        phones = {
            "en": f"+44 7700 900{n3}",
            "de": f"+49 30 23125{n3}",
            "fr": f"+33 1 99 00 {n3[:2]} {rng.randrange(10, 99)}",
            "es": f"+34 555 01 {n3[:2]} {n3[2]}0",
            "it": f"+39 555 01{n3}",
            "nl": f"+31 20 555 0{n3}",
        }
        return phones.get(locale, f"+1 202-555-01{n3[:2]}")
    if kind == "order":
        return rng.choice(("HD-", "#", "ORD-2026-")) + _digits(rng, 6)
    if kind == "card":
        number = luhn_complete("4" + _digits(rng, 14))
        if rng.random() < 0.5:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        return number
    if kind == "iban":
        if locale == "nl":
            iban = iban_complete("NL", "HAVN" + _digits(rng, 10))
        elif locale == "fr":
            bank, branch, account = _digits(rng, 5), _digits(rng, 5), _digits(rng, 11)
            key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
            iban = iban_complete("FR", f"{bank}{branch}{account}{key:02d}")
        else:
            iban = iban_complete("DE", _digits(rng, 18))
        if rng.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban
    if kind == "name":
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    raise ValueError(f"unknown kind {kind!r}")


def compose(rng: random.Random, locale: str, pii: tuple[str, ...]) -> str:
    """One message in a locale with the given kinds of synthetic personal data."""
    parts = [rng.choice(_BASE[locale])]
    for kind in pii:
        parts.append(_PII[locale][kind].format(v=fake_value(rng, kind, locale)))
    return " ".join(parts)


def generate_message(rng: random.Random, locale: str | None = None) -> SyntheticMessage:
    """A random message: about half carry one or two kinds of synthetic personal data."""
    loc = locale or rng.choice(LOCALES)
    pii: tuple[str, ...] = ()
    if rng.random() < 0.55:
        pii = tuple(rng.sample(PII_KINDS, k=rng.choice((1, 1, 2))))
    return SyntheticMessage(loc, compose(rng, loc, pii), pii)


def generate_messages(count: int, *, seed: int = 0) -> list[SyntheticMessage]:
    """Deterministic batch of messages for benchmarks."""
    rng = random.Random(seed)  # noqa: S311 - synthetic test data, not security
    return [generate_message(rng) for _ in range(count)]


class TrafficGenerator:
    """Injects customer events into a Simulator at a steady rate, deterministically per seed."""

    def __init__(self, sim: Simulator, *, per_minute: float = 0, seed: int = 0) -> None:
        self.sim = sim
        self.per_minute = per_minute
        self.rng = random.Random(seed)  # noqa: S311 - synthetic test data, not security
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.injected = 0

    def step(self) -> dict[str, str]:
        """Inject one event now. Returns its platform, kind and ids."""
        with self._lock:
            return self._step()

    def _step(self) -> dict[str, str]:
        rng = self.rng
        customer = rng.choice(world.CUSTOMERS)
        locale = customer.locale if rng.random() < 0.8 else rng.choice(LOCALES)
        message = generate_message(rng, locale)
        roll = rng.random()
        ids: dict[str, str]
        if roll < 0.35:
            kind = "comment"
            ids = self.sim.customer_facebook_comment(
                message.text, customer=customer.key, post_id=self._random_post()
            )
        elif roll < 0.45:
            kind = "comment_reply"
            parent = self._random_customer_comment()
            if parent is None:
                ids = self.sim.customer_facebook_comment(message.text, customer=customer.key)
            else:
                ids = self.sim.customer_facebook_comment(
                    message.text, customer=customer.key, parent_id=parent
                )
        elif roll < 0.60:
            kind = "messenger"
            ids = self.sim.customer_facebook_message(message.text, customer=customer.key)
        elif roll < 0.85:
            kind = "mention"
            ids = self.sim.customer_x_mention(message.text, customer=customer.key)
        elif roll < 0.90:
            kind = "reply"
            ids = self.sim.customer_x_mention(
                message.text,
                customer=customer.key,
                in_reply_to_tweet_id=rng.choice(world.SEED_TWEETS)[0],
            )
        else:
            kind = "dm"
            ids = self.sim.customer_x_dm(message.text, customer=customer.key)
        platform = "facebook" if kind in ("comment", "comment_reply", "messenger") else "x"
        self.injected += 1
        logger.info(
            "traffic event platform=%s kind=%s pii_kinds=%s", platform, kind, len(message.pii)
        )
        return {"platform": platform, "kind": kind, "locale": message.locale, **ids}

    def _random_post(self) -> str:
        with self.sim.lock:
            return self.rng.choice(sorted(self.sim.fb_posts))

    def _random_customer_comment(self) -> str | None:
        with self.sim.lock:
            candidates = sorted(
                c.id
                for c in self.sim.fb_comments.values()
                if c.author_id != world.FB_PAGE_ID and not c.deleted
            )
        return self.rng.choice(candidates) if candidates else None

    def set_rate(self, per_minute: float) -> None:
        """Change the rate (0 pauses); starts the thread if needed."""
        self.per_minute = per_minute
        self._wake.set()
        if per_minute > 0:
            self.start()

    def start(self) -> None:
        """Run in a daemon thread until stop()."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        # The first event comes quickly so a demo shows a ticket within seconds.
        delay = 2.0
        while not self._stop.is_set():
            self._wake.clear()
            if self.per_minute <= 0:
                self._wake.wait()
                continue
            if self._wake.wait(delay):
                delay = min(delay, 60.0 / self.per_minute)
                continue
            if self._stop.is_set():
                break
            try:
                self.step()
            except Exception:  # process edge: a background thread must not die silently
                logger.exception("traffic step failed")
            delay = 60.0 / self.per_minute * self.rng.uniform(0.5, 1.5)
