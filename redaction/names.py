"""Given-name and surname gazetteers for the PERSON recogniser, plus what must not count as a name.

The lists come from Faker's per-locale person providers: a maintained package whose name lists
are curated per country (EN, IE, DE, AT, CH, FR, BE, ES, IT, NL and the communities common in
those countries), importable offline, with no model to download. Only the data tuples are read;
no Faker generator is built.
"""

from __future__ import annotations

import importlib
import logging
import re

logger = logging.getLogger(__name__)

_LOCALES = (
    "en_GB", "en_US", "en_IE", "en_IN", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_BE", "fr_CH",
    "es_ES", "it_IT", "nl_NL", "nl_BE", "pt_PT", "pl_PL", "tr_TR",
)  # fmt: skip
_LATIN_NAME = re.compile(
    r"(?:[A-ZÀ-Þ][a-z]?['\u2019])?[A-ZÀ-Þ][a-zß-ÿ]+(?:[A-ZÀ-Þ][a-zß-ÿ]+)?(?:['\u2019-][A-Za-zÀ-ÿ]+)*"
)

# Popular given names missing from those lists (checked against national top-100 lists).
_EXTRA_FIRST = [
    "Freddie", "Alfie", "Finley", "Teddy", "Albie", "Reggie", "Jenson", "Maisie", "Hallie", "Esme",
    "Delilah", "Cian", "Ginevra", "Zainab", "Ava", "Kayden", "Jaxon", "Nevaeh", "Aaliyah",
    "Saoirse", "Aoife", "Caoimhe", "Oisin", "Darragh", "Maël", "Lucía", "Tess", "Noor", "Sem",
    "Luuk", "Bram", "Fenna", "Saar", "Yara", "Daan", "Lieke", "Jens", "Mats", "Thijs", "Stijn",
    "Sven", "Iker", "Unai", "Ainhoa", "Nerea", "Aitana", "Leire", "Mikel", "Gorka",
]  # fmt: skip
_EXTRA_LAST = [
    "Okafor", "Okonkwo", "Adeyemi", "Mensah", "Nguyen", "Kowalski", "Nowak", "Yilmaz",
    "Y\u0131lmaz", "Kaya", "Demir", "Öztürk", "O'Brien", "O'Connor", "O'Neill", "O'Sullivan",
    "O'Reilly", "O'Donnell", "O'Leary", "O'Mahony", "O'Shea", "O'Hara", "McCarthy", "McLaughlin",
    "McDonald", "MacDonald", "McKenna", "McGrath", "Murphy", "Kelly", "Byrne", "Khan", "Patel",
    "Shah", "Singh", "Ahmed", "Hussain", "Ali", "Begum", "Rahman", "Chowdhury", "Ylmaz",
]  # fmt: skip

# Given names that are also everyday words, months or brands: a lone capitalised one is not
# evidence, so these need a surname or a cue ("my name is", a title, a signature).
AMBIGUOUS = frozenset(
    [
        "Amico", "Amor", "América", "An", "Ante", "Aria", "Bas", "Beat", "Beau", "Can", "Cara",
        "Cas", "Che", "Claire", "Deviner", "Domenica", "Donna", "Durante", "El", "Ella", "Else",
        "Fleur", "Grazia", "Greco", "Lien", "Line", "Lot", "Mare", "Massimo", "Maxime", "Mira",
        "Om", "Roman", "Salud", "Tan", "Una", "Us", "Veer", "Verde", "Zak",
        "Will", "May", "June", "April", "August", "March", "Mark", "Bill", "Grace", "Hope", "Joy",
        "Faith", "Rose", "Iris", "Ruby", "Amber", "Jade", "Pearl", "Dawn", "Summer", "Autumn",
        "Crystal", "Sky", "Rich", "Frank", "Art", "Bob", "Pat", "Sue", "Don", "Guy", "Jack", "Max",
        "Ken", "Sam", "Ray", "Jean", "Carol", "Holly", "Ivy", "Penny", "Sandy", "Mercedes",
        "Paris", "Sunny", "Rocky", "Hunter", "Chase", "Page", "Gene", "Nick", "Victor", "Angel",
        "Eden", "Star", "Gift", "Precious", "Tuesday", "Miles", "Lane", "Dean", "Glen", "Cliff",
        "Rod", "Wade", "Drew", "Bond", "Royal", "Sterling", "Major", "Price", "Young", "King",
        "Earl", "Duke", "Prince", "Norman", "Noble", "Ernst", "Heide", "Kai", "Wolf", "Klaus",
        "Claude", "Désiré", "Aimé", "Clément", "Constant", "France", "Marine", "Céleste",
        "Prudence", "Honoré", "Blanche", "Olive", "Colombe", "Pierre", "Pilar", "Rosario",
        "Dolores", "Amparo", "Consuelo", "Soledad", "Luz", "Paz", "Cruz", "Rocío", "Rosa",
        "Blanca", "Victoria", "Jesús", "Salvador", "Domingo", "Reyes", "Nieves", "Socorro",
        "Milagros", "Gracia", "Esperanza", "Inmaculada", "Luna", "Sol", "Benedetto", "Felice",
        "Fortunato", "Gioia", "Speranza", "Serena", "Marina", "Luce", "Stella", "Bella", "Vera",
        "Sole", "Primo", "Pia", "Giusto", "Roos", "Bart", "Floor", "Lieve", "Hoop", "Lotte",
        "Mees", "Teun", "Dirk", "Kees", "Ali", "Van", "Del", "Gino", "Jan", "German", "Chelsea",
        "Hema", "Leroy", "Merlin", "Zara", "Otto", "Alexa", "Siri", "Hugo", "Tesla", "Chanel",
        "Dior", "Ford", "Lincoln", "Florence", "Sydney", "Austin", "Charlotte", "Jackson",
        "Chester", "Orlando", "Adelaide", "Regina", "Eugene", "Madison", "Phoenix", "Houston",
        "Dallas", "Denver", "Valencia", "Lourdes", "Georgia", "Virginia", "Carolina", "Florida",
        "Savannah", "Brooklyn", "Sofia", "Paz", "Santiago", "Trinidad", "Nancy", "Jordan",
        "Diamond", "Storm", "River", "Rain", "Snow", "Cash", "Story", "Saint", "Baby", "Bunny",
        "Candy", "Cookie", "Honey", "Sugar", "Lucky", "Happy", "Merry", "Christmas", "Easter",
        "Noel", "Noël", "Toto", "Lola", "Coco", "Mimi", "Pepper", "Ginger", "Basil", "Sage",
        "Rosemary", "Jasmine", "Poppy", "Daisy", "Lily", "Violet", "Heather", "Myrtle", "Hazel",
        "Willow", "Laurel", "Fern", "Olivia", "Kiwi", "Apple", "Berry", "Cherry", "Peaches",
        "Brandy", "Whisky", "Champagne", "Gin", "Rum", "Porter", "Baker", "Cook", "Smith",
        "Taylor", "Miller", "Carter", "Cooper", "Parker", "Mason", "Tanner", "Fletcher", "Archer",
        "Butler", "Marshall", "Sherman", "Harley", "Davidson", "Nike", "Diesel", "Levi", "Levis",
        "Vans", "Mango", "Sisley", "Lacoste", "Benetton", "Guess", "Wendy", "Anna", "Adam", "Eve",
        "Abel", "Moses", "Job", "Amen", "Ole", "Ola", "Salut", "Ciao", "Hola", "Hallo", "Bonjour",
        "Buenas", "Grazie", "Danke", "Merci", "Gracias", "Bedankt", "Dank", "Tag", "Morgen",
        "Abend", "Mittag", "Sonntag", "Montag", "Samstag", "Freitag", "Mai", "Juni", "Juli",
        "Janvier", "Avril", "Mars", "Juin", "Mayo", "Julio", "Abril", "Marzo", "Giugno", "Luglio",
        "Maggio", "Mei", "Maart", "Augustus", "Oktober", "Fanny", "Titty", "Dick", "Willy",
        "Randy", "Horny", "Booty", "Emoji", "Alpha", "Beta", "Delta", "Gamma", "Omega", "Sigma",
        "Echo", "Tango", "Romeo", "Juliet", "Oscar", "Golf", "Hotel", "India", "Lima", "Mike",
        "Papa", "Quebec", "Sierra", "Uniform", "Victor", "Whiskey", "Yankee", "Zulu", "Amazon",
        "Apple", "Google", "Android", "Windows", "Office", "Teams", "Prime", "Echo", "Dot", "Fire",
        "Ring", "Nest", "Hue", "Sonos", "Bose", "Beats", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul",
        "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Skype", "Zoom", "Slack", "Uber", "Lyft",
        "Bolt", "Nada", "Pero", "Sans", "Con", "Per", "Bei", "Dat", "Die", "Der", "Das", "Les",
        "Los",
    ]
)  # fmt: skip
# Names of voice assistants and single-word brands are never people in this data.
NEVER_ALONE = frozenset(["Alexa", "Siri", "Cortana", "Bixby", "Google", "Echo"])


def _load() -> tuple[frozenset[str], frozenset[str]]:
    first: set[str] = set(_EXTRA_FIRST)
    last: set[str] = set(_EXTRA_LAST)
    for locale in _LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female"):
            first.update(getattr(provider, attr, ()))
        last.update(getattr(provider, "last_names", ()))
    if len(first) == len(_EXTRA_FIRST):
        # Without the gazetteer PERSON falls back to cues and titles only: say so once.
        logger.warning("person gazetteer unavailable package=faker locales=%s", len(_LOCALES))
    first = {n for n in first if _LATIN_NAME.fullmatch(n)}
    # Compound surnames ("van Leeuwen", "De Luca") are matched token by token.
    last = {part for n in last for part in n.split() if _LATIN_NAME.fullmatch(part)}
    return frozenset(first), frozenset(last)


FIRST, LAST = _load()
FIRST_LOWER = frozenset(n.lower() for n in FIRST)
LAST_LOWER = frozenset(n.lower() for n in LAST)
