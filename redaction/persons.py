"""PERSON recogniser: cues, titles, signatures and a gazetteer, minus brands and places."""

from __future__ import annotations

import re
from collections.abc import Iterator

from redaction.base import Hit, Options
from redaction.finding import Entity
from redaction.names import AMBIGUOUS, FIRST, FIRST_LOWER, LAST, LAST_LOWER, NEVER_ALONE
from redaction.normalise import Normalised

_TOKEN = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_CAPITALISED = re.compile(
    r"(?:[A-ZÀ-Þ][a-zß-ÿ]*['])?[A-ZÀ-Þ](?:[a-zß-ÿ]+|[a-zß-ÿ]*[A-ZÀ-Þ][a-zß-ÿ]+)"
    r"(?:-[A-ZÀ-Þ][a-zß-ÿ]+)?(?:'s)?"
)
_PARTICLES = frozenset(
    [
        "van", "von", "de", "der", "den", "del", "della", "di", "da", "du", "le", "la", "ten",
        "ter", "dos", "das", "zu", "vom", "y", "bin", "al", "ben",
    ]
)  # fmt: skip
_TITLES = frozenset(
    [
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "herr", "frau", "m", "mme", "mlle",
        "monsieur", "madame", "sr", "sra", "srta", "señor", "señora", "señorita", "don", "doña",
        "sig", "sig.ra", "signor", "signora", "signorina", "dott", "dhr", "mevr", "mevrouw",
        "meneer", "mister", "missus",
    ]
)  # fmt: skip


def _phrases(*phrases: str) -> frozenset[tuple[str, ...]]:
    """Cue phrases as tuples of lower-cased tokens, tokenised like the text is."""
    return frozenset(tuple(_TOKEN.findall(p.lower())) for p in phrases)


# Phrases after which the next capitalised words are a name whatever they are.
_STRONG_CUES = _phrases(
    "my name is", "my name's", "name is", "name's", "name", "me llamo", "mi nombre es", "nombre",
    "je m'appelle", "mon nom est", "nom", "ich heiße", "ich heisse", "mein name ist", "name ist",
    "mi chiamo", "il mio nome è", "nome", "mijn naam is", "ik heet", "naam", "acc holder",
    "account holder", "account name", "cardholder", "card holder", "kontoinhaber",
    "kontoinhaberin", "inhaber", "titulaire", "titular", "intestatario", "intestataria",
    "rekeninghouder", "tenaamstelling", "on behalf of", "in the name of", "under the name",
    "auf den namen", "au nom de", "a nombre de", "a nome di", "op naam van", "ten name van",
    "attn", "c/o", "z.hd", "signed", "firmado", "signé", "firmato", "getekend", "gezeichnet",
)  # fmt: skip
# Weaker cues: the next word must also be a known given name.
_WEAK_CUES = _phrases(
    "i'm", "im", "i am", "this is", "it's", "its", "it is", "soy", "sono", "ich bin", "je suis",
    "ik ben", "hier ist", "hier is", "c'est", "under", "for", "to", "with", "spoke to",
    "spoke with", "talked to", "sprach mit", "parlé avec", "hablé con", "ho parlato con",
    "gesproken met", "and", "und", "et", "y", "e", "en", "agent", "colleague", "driver",
    "neighbour", "neighbor", "wife", "husband", "partner", "son", "daughter", "mother", "mum",
    "mom", "father", "dad", "brother", "sister", "friend", "boss", "manager", "technician",
    "engineer", "courier", "mann", "frau", "sohn", "tochter", "nachbar", "nachbarin", "kollege",
    "kollegin", "mari", "femme", "fils", "fille", "voisin", "voisine", "collègue", "marido",
    "mujer", "hijo", "hija", "vecino", "vecina", "compañero", "compañera", "marito", "moglie",
    "figlio", "figlia", "vicino", "vicina", "collega", "man", "vrouw", "zoon", "dochter",
    "buurman", "buurvrouw", "dear", "liebe", "lieber", "cher", "chère", "querido", "querida",
    "caro", "cara", "beste", "hi", "hello", "hey", "hallo", "hola", "ciao", "bonjour", "salut",
    "hoi", "thanks", "thank you", "danke", "merci", "gracias", "grazie", "bedankt",
)  # fmt: skip
# In all-lower-case messages only cues that introduce the writer or a relative count: "en el"
# or "to will" must not turn a lower-case word into a name.
_LOWER_CASE_CUES = _phrases(
    "i'm", "im", "i am", "this is", "it's", "its", "it is", "soy", "sono", "ich bin",
    "je suis", "ik ben", "hier ist", "hier is", "c'est", "wife", "husband", "partner", "son",
    "daughter", "neighbour", "neighbor", "mann", "frau", "mari", "femme", "marido", "mujer",
    "marito", "moglie", "man", "vrouw",
)  # fmt: skip
_SIGN_OFFS = _phrases(
    "thanks", "thank you", "many thanks", "regards", "kind regards", "best regards", "best wishes",
    "best", "cheers", "sincerely", "yours", "br", "cordialement", "bien à vous",
    "bien cordialement", "merci", "salutations", "saludos", "un saludo", "gracias", "atentamente",
    "un abrazo", "grazie", "saluti", "cordiali saluti", "distinti saluti", "un saluto", "grüße",
    "viele grüße", "liebe grüße", "beste grüße", "mfg", "mit freundlichen grüßen",
    "freundliche grüße", "lg", "vg", "danke", "gruß", "groetjes", "groeten",
    "met vriendelijke groet", "vriendelijke groet", "mvg", "bedankt", "dank je", "dank u", "xx",
    "xoxo",
)  # fmt: skip
_CUE_GAP = frozenset(" :,-\n\t")

# Words after a lone given name that show it is a person ("Niamh from your team promised").
_AFTER_CUE = re.compile(
    r",?\s(?:(?P<place>here|hier|ici|aquí|aqui|qui|from\s(?:your|the|customer|support)|"
    r"von\s(?:euch|eurem|ihrem)|de\svotre|de\schez|de\svuestro|del\svostro|van\sjullie|"
    r"van\suw)|said|says|told|promised|called|asked|wrote|replied|rang|is\son|placed|signed|"
    r"sagte|meinte|hat\sgesagt|a\sdit|m'a|dijo|me\sdijo|ha\sdetto|zei)\b",
    re.IGNORECASE,
)
_BRANDS = frozenset(
    [
        "dr pepper", "dr martens", "doc martens", "dr oetker", "dr scholl", "mr kipling",
        "mr muscle", "mr clean", "uncle ben's", "aunt jemima", "ben jerry's", "tim hortons",
        "papa john's", "wendy's", "jack daniel's", "johnnie walker", "captain morgan", "ted baker",
        "jimmy choo", "calvin klein", "tommy hilfiger", "ralph lauren", "hugo boss",
        "victoria's secret", "marc jacobs", "michael kors", "kate spade", "tory burch",
        "paul smith", "stella mccartney", "vivienne westwood", "karl lagerfeld", "louis vuitton",
        "christian dior", "christian louboutin", "yves saint", "giorgio armani", "emporio armani",
        "salvatore ferragamo", "carolina herrera", "massimo dutti", "fred perry", "ben sherman",
        "tom tailor", "jack wolfskin", "jack jones", "marc o'polo", "tom ford", "coco chanel",
        "jean paul", "pierre cardin", "isabel marant", "albert heijn", "ray ban", "anne klein",
        "betty crocker", "sara lee", "martha stewart", "john lewis", "thomas cook", "thomas sabo",
        "peter pan", "philip morris", "alexander mcqueen", "vera wang", "oscar de", "diane von",
        "paul hewitt", "jil sander", "helly hansen", "charlotte tilbury", "estée lauder",
        "elizabeth arden", "nina ricci", "jo malone", "max mara", "marc cain", "bruno banani",
        "harvey nichols", "john deere", "harley davidson", "walt disney", "mercedes benz",
        "alfa romeo", "aston martin", "rolls royce", "ronald mcdonald", "tommy jeans",
        "kurt geiger", "karen millen", "ted lasso", "charles tyrwhitt", "laura ashley",
        "ben sherman", "james villas", "jack wills", "ann summers", "jamie oliver",
        "gordon ramsay", "hugo juice", "st george", "st james", "st john", "st patrick",
        "victoria station", "victoria line", "king george", "george street", "george square",
        "george range", "george clothing", "george at asda", "george at", "george foreman",
        "marks spencer", "jack daniels", "paris saint-germain",
    ]
)  # fmt: skip
_BRAND_FIRST_TOKENS = frozenset(b.split()[0] for b in _BRANDS)
# A capitalised word after these is part of a place or a product, not a person.
_PLACE_NEXT = frozenset(
    [
        "station", "street", "road", "airport", "park", "square", "bridge", "hospital",
        "university", "college", "school", "centre", "center", "mall", "hotel", "church",
        "cathedral", "line", "range", "collection", "brand", "jeans", "shoes", "store", "shop",
        "app", "zero", "max", "light", "diet", "rice", "tea", "bahnhof", "straße", "strasse",
        "platz", "gare", "aéroport", "estación", "estacion", "stazione", "plein", "straat", "laan",
        "weg", "avenue", "lane", "drive", "close", "way", "place", "court", "terrace", "gardens",
        "grove", "boulevard", "hall", "house", "tower", "arena", "stadium", "museum",
    ]
)  # fmt: skip
_PLACE_PREVIOUS = frozenset(
    [
        "st", "st.", "saint", "san", "santa", "sankt", "port", "fort", "mount", "mt", "lake",
        "new", "north", "south", "east", "west", "upper", "lower", "great", "little", "hotel",
        "gare", "rue", "via", "calle", "the", "a", "an", "der", "die", "das", "le", "la", "les",
        "el", "los", "il", "lo", "het", "een", "ein", "eine", "un", "une",
    ]
)  # fmt: skip
_LOCATIVE = frozenset(
    ["in", "at", "near", "nach", "bei", "à", "au", "en", "a", "naar", "bij", "vicino"]
)
_STOP_CAPS = frozenset(
    [
        "I", "The", "This", "That", "Thanks", "Thank", "Please", "Hello", "Hi", "Hey", "Dear",
        "Order", "Delivery", "Refund", "Still", "Why", "What", "When", "Where", "How", "Nothing",
        "Good", "Great", "Love", "Best", "Regards", "Cheers", "Sorry", "Your", "Our", "My", "Help",
        "Service", "Support", "Team", "Customer", "Black", "Friday", "Store", "Card", "Account",
        "Mobile", "Phone", "Email", "Mail", "Home", "Street", "Road", "City", "Station", "Bank",
        "Ok", "OK", "Yes", "No", "Not", "And", "Or", "But", "If", "So", "Also", "Just", "Now",
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January",
        "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December", "Mr", "Mrs", "Ms", "Dr", "Miss", "Here", "There", "DM", "PM", "AM",
        "Tel", "Mob", "Hallo", "Danke", "Bitte", "Merci", "Bonjour", "Hola", "Gracias", "Ciao",
        "Grazie", "Groetjes", "Bedankt", "Is", "Was", "Are", "Has", "Have", "Had", "Can", "Could",
        "Would", "Should", "Will", "Did", "Does", "Do", "Don", "Ich", "Je", "Yo", "Io", "Ik",
        "Wir", "Nous", "Noi", "Wij", "Sie", "Vous", "Usted", "Lei", "U", "Ihr", "Il", "Elle", "Er",
        "Es", "Het", "Dit", "Dat", "Et", "En", "Y", "E", "Und", "Oder", "Ou", "O", "Of", "Ma",
        "Mais", "Pero", "Maar", "Aber", "Pas", "Kein", "Geen", "Non", "Nein", "Nee", "Si", "Sì",
        "Ja", "Oui", "Wo", "Waar", "Dove", "Donde", "Où", "Wann", "Quand", "Cuando", "Quando",
        "Wanneer", "Warum", "Pourquoi", "Perché", "Waarom", "Was", "Que", "Che", "Wat", "Qué",
        "Cosa", "Quoi", "IBAN", "BIC", "SWIFT", "PIN", "ID", "DNI", "NIE", "SSN", "NHS", "BSN",
        "NI", "UK", "EU", "US", "USA", "GB", "DE", "FR", "ES", "IT", "NL",
    ]
)  # fmt: skip
_HANDLE_BEFORE = frozenset("@#/")


def _is_cap(token: str) -> bool:
    return _CAPITALISED.fullmatch(token) is not None


def _core(token: str) -> str:
    """The token without a possessive 's."""
    if token.endswith("'s") and len(token) > 3:
        return token[:-2]
    return token


class _Tokens:
    __slots__ = ("gaps", "lower_mode", "lowers", "text", "upper_mode", "values", "words")

    def __init__(self, doc: Normalised) -> None:
        self.text = doc.text
        words = doc.words
        self.words = words
        self.values = words.values
        self.gaps = words.gaps
        self.lowers = list(map(str.lower, self.values))
        self.lower_mode = self.text == doc.lower
        long_words = [v for v in self.values if len(v) > 1]
        uppers = sum(v.isupper() for v in long_words)
        self.upper_mode = len(long_words) >= 3 and uppers >= 0.8 * len(long_words)

    def gap(self, i: int) -> str:
        """Text between token i-1 and token i."""
        return self.gaps[i]

    def cue(self, i: int, phrases: frozenset[tuple[str, ...]], longest: int = 4) -> int:
        """Start index of a cue phrase that ends right before token i, or -1."""
        for n in range(min(longest, i), 0, -1):
            if tuple(self.lowers[i - n : i]) in phrases:
                return i - n
        return -1


def _brand_at(tokens: _Tokens, i: int) -> int:
    """Number of tokens of a brand or place phrase starting at token i, else 0."""
    if tokens.lowers[i] not in _BRAND_FIRST_TOKENS:
        return 0
    for n in (3, 2, 1):
        if i + n <= len(tokens.values) and " ".join(tokens.lowers[i : i + n]) in _BRANDS:
            return n
    return 0


def _name_like(token: str, tokens: _Tokens) -> bool:
    if token.isupper() and len(token) > 1:
        # "my name is MARIA LOPEZ": capitals alone say nothing, the gazetteer has to.
        return token.title() in FIRST or token.title() in LAST
    if tokens.lower_mode:
        return token in FIRST_LOWER or token in LAST_LOWER
    return token[0].isupper() and _is_cap(token) and token not in _STOP_CAPS


def _extend(tokens: _Tokens, i: int, limit: int = 4) -> int:
    """Index one past the last token of the name that starts at token i."""
    j = i + 1
    n = len(tokens.values)
    while j < n and j - i < limit:
        if _core(tokens.values[j - 1]) != tokens.values[j - 1]:
            break  # a possessive ends the name: "Tom's account"
        if tokens.gap(j) != " ":
            break
        value = tokens.values[j]
        if tokens.lowers[j] in _PARTICLES:
            # One or two particles ("de", "van der", "de la") must lead to a surname.
            k = j + 1
            if k < n and tokens.lowers[k] in _PARTICLES and tokens.gap(k) == " ":
                k += 1
            if k < n and tokens.gap(k) == " ":
                nxt = tokens.values[k]
                if _name_like(nxt, tokens) and (not tokens.lower_mode or nxt in LAST_LOWER):
                    j = k + 1
                    continue
            break
        if not _name_like(value, tokens) or tokens.lowers[j] in _PLACE_NEXT:
            break
        if tokens.lower_mode or tokens.upper_mode:
            # Without capitals only the lists vouch for the next word: a surname, or a second
            # given name ("jose luis") that is no everyday word.
            title = value.title()
            if title not in LAST and (title not in FIRST or title in AMBIGUOUS):
                break
        j += 1
    return j


def _gazetteer_first(value: str, tokens: _Tokens) -> bool:
    core = _core(value)
    if tokens.upper_mode:
        return core.isupper() and core.title() in FIRST and core.title() not in AMBIGUOUS
    if tokens.lower_mode:
        return core in FIRST_LOWER and core.title() not in AMBIGUOUS
    return _is_cap(value) and core in FIRST


# Surnames that are everyday words too: in a lower-case message they prove nothing.
_COMMON_SURNAME_WORDS = frozenset(
    [
        "wood", "brown", "white", "black", "green", "young", "king", "long", "hill", "day", "may",
        "rose", "bell", "hall", "wall", "ward", "page", "price", "rich", "mark", "cook", "baker",
        "bird", "fox", "lamb", "moss", "stone", "street", "lane", "field", "ford", "love", "best",
        "good", "west", "north", "south", "east", "new", "little", "small", "short", "hope",
        "free", "bond", "gold", "silver", "cash", "park", "church", "chapel", "house", "law",
        "rice", "salt", "bush", "marsh", "pool", "wells", "brook", "rivers",
    ]
)  # fmt: skip


def _lower_full_name(tokens: _Tokens, i: int, end: int) -> bool:
    """A known given name followed by a known surname, in a message typed in lower case."""
    return end - i >= 2 and tokens.lowers[end - 1] not in _COMMON_SURNAME_WORDS


def _strong(tokens: _Tokens, i: int) -> bool:
    """Whether a title, a naming cue or a sign-off leads into token i."""
    gap = tokens.gap(i)
    if i and tokens.lowers[i - 1] in _TITLES and gap in (" ", ". ", "."):
        return True
    if not gap or not set(gap) <= _CUE_GAP:
        return False
    if tokens.cue(i, _STRONG_CUES) >= 0:
        return True
    # A sign-off ("Thanks,\nMaria Lopez") must open its sentence and be set off by
    # punctuation or a line break; and since "Cheers, Acme Support" signs for a company,
    # the word after it must be a known given name or surname.
    if "," not in gap and "\n" not in gap and "-" not in gap:
        return False
    first = tokens.cue(i, _SIGN_OFFS)
    if first < 0:
        return False
    before = tokens.gap(first)
    if not (first == 0 or any(c in before for c in ".!?\n") or not before.strip()):
        return False
    core = _core(tokens.values[i])
    return core.title() in FIRST or core.title() in LAST


def _unknown_given_name(tokens: _Tokens, i: int) -> tuple[int, float] | None:
    """ "I'm Xavi Hernández": a given name missing from the lists, vouched for by a cue and a
    known surname right after it."""
    if tokens.lower_mode or tokens.upper_mode or not _name_like(tokens.values[i], tokens):
        return None
    j = i + 1
    if j >= len(tokens.values) or tokens.gap(j) != " " or tokens.values[j] not in LAST:
        return None
    if tokens.values[i] in AMBIGUOUS or tokens.cue(i, _WEAK_CUES, 3) < 0:
        return None
    return _extend(tokens, i), 0.75


def _candidate(tokens: _Tokens, i: int) -> tuple[int, float] | None:
    """(end token index, score) of a name starting at token i, or None."""
    values = tokens.values
    value = values[i]
    core = _core(value)
    if tokens.lower_mode:
        surname_after_title = i > 0 and tokens.lowers[i - 1] in _TITLES and core in LAST_LOWER
        if (core not in FIRST_LOWER or len(core) < 3) and not surname_after_title:
            return None
    elif not value[0].isupper():
        return None
    before = tokens.gaps[i][-1:]
    # "@Maria" is a handle, "#Maria" a tag, "00Maria" part of a code.
    if before in _HANDLE_BEFORE or before.isdigit() or core in NEVER_ALONE:
        return None
    if tokens.gaps[i + 1][:1] == "@":
        return None
    prev = tokens.lowers[i - 1] if i else ""
    if _brand_at(tokens, i) or (prev in _TITLES and i and _brand_at(tokens, i - 1)):
        return None
    if _strong(tokens, i):
        if not _name_like(value, tokens):
            return None
        return _extend(tokens, i), 0.85
    if prev in _PLACE_PREVIOUS:
        return None
    if not _gazetteer_first(value, tokens):
        return _unknown_given_name(tokens, i)
    end = _extend(tokens, i)
    cues = _LOWER_CASE_CUES if tokens.lower_mode or tokens.upper_mode else _WEAK_CUES
    weak = tokens.gap(i) == " " and tokens.cue(i, cues, 3) >= 0
    after_match = _AFTER_CUE.match(tokens.text, tokens.words.ends[end - 1])
    after = after_match is not None
    # "Ella dijo": a pronoun before a verb; only "here" or "from your team" vouch for it.
    placed_after = after_match is not None and after_match.group("place") is not None
    if tokens.lower_mode and not (weak or after or _lower_full_name(tokens, i, end)):
        return None
    if end < len(values) and tokens.lowers[end] in _PLACE_NEXT and tokens.gap(end) == " ":
        return None
    if end == i + 1:
        if tokens.upper_mode and (len(core) < 3 or not (weak or after)):
            return None
        if core in AMBIGUOUS and not (weak or placed_after):
            return None
        if prev in _LOCATIVE and core in AMBIGUOUS:
            return None
        return end, 0.75 if (weak or after) else 0.7
    return end, 0.8


def find(doc: Normalised, options: Options) -> Iterator[Hit]:
    """Yield PERSON hits."""
    tokens = _Tokens(doc)
    values = tokens.values
    lower_mode = tokens.lower_mode
    i = 0
    n = len(values)
    while i < n:
        # Most words are lower-case and cannot start a name: skip them before any work.
        if not (lower_mode or values[i][0].isupper()):
            # "Dhr. de Vries": a particle may open a name right after a title or cue.
            if (
                tokens.lowers[i] in _PARTICLES
                and i + 1 < n
                and tokens.gap(i + 1) == " "
                and values[i + 1][0].isupper()
                and _strong(tokens, i)
            ):
                end = _extend(tokens, i + 1)
                words = tokens.words
                yield Hit(Entity.PERSON, words.starts[i], words.ends[end - 1], 0.85)
                i = end
                continue
            i += 1
            continue
        brand = _brand_at(tokens, i)
        if brand:
            # "Ralph Lauren", "Marks & Spencer": no token of a brand starts a name either.
            i += brand
            continue
        found = _candidate(tokens, i)
        if found is None:
            i += 1
            continue
        end, score = found
        last = tokens.values[end - 1]
        stop = tokens.words.ends[end - 1] - (len(last) - len(_core(last)))
        yield Hit(Entity.PERSON, tokens.words.starts[i], stop, score)
        i = end
