"""Which language an email is written in (ISO 639-1), offline.

lingua-language-detector does the statistics. Its detector is built once per process, lazily,
restricted to the languages these inboxes see plus the ones they are confused with, and with its
models preloaded (about 0.5 s and 100 MB, once), so each call after that takes well under a
millisecond. Two cases it cannot handle alone get help here: Hindi written in Latin letters
("order kab aayega?") and the close pair Indonesian/Malay, settled by words only one of them uses.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

if TYPE_CHECKING:
    from collections.abc import Iterable

LANGUAGES = (
    Language.ENGLISH,
    Language.HINDI,
    Language.INDONESIAN,
    Language.MALAY,
    # Confusables: Tagalog shares Austronesian words with id/ms, Marathi shares Devanagari with
    # Hindi, and Somali soaks up romanised Hindi that would otherwise count as English.
    Language.TAGALOG,
    Language.MARATHI,
    Language.SOMALI,
)
CONFUSABLES = frozenset({Language.TAGALOG, Language.MARATHI, Language.SOMALI})
# lingua's cost grows with the text; 400 characters decide as well as 2,000 on our dev set.
SAMPLE_CHARS = 400


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[a-z]+")
# Romanised Hindi: words no English, Indonesian or Malay text uses, and short particles that
# count for half because those languages have look-alikes ("ke", "me", "do").
HINGLISH = _words(
    "hai hain nahi nahin nhi kya kab kyun kyu kaise kaisa kaisi mera meri mere mujhe humne hamara "
    "hamari aap aapka aapki aapke aapko hoga hogi gaya gayi gaye tha thi raha rahi rahe karo karna "
    "karein kijiye dijiye bhai bhaiya abhi bhi aur wala wali wale paisa paise baar jaldi aaj "
    "chahiye sakta sakte sakti lekin kyunki haan accha acha theek thik bahut bohot kuch koi yeh "
    "woh kar kiya kiye diya diye liya mila mile bataiye batao batayein hua hui hue ghar mein "
    "mujhko humko unka unki apna apni wapas dukaan tarikh mahina aayega aaya aaye aayi ayega bhejo "
    "bhejiye bhejna bhej karwa karke karne karunga karungi ruka ruki nikla nikal galti sahi "
    "pehle baad neeche upar agle pichle kal parso hafte hafta ghante saath sirf jabki lagaya "
    "mangwai mangaye mangwaya samajh bataye hisaab naya naye purana maal khatam baaki pura "
    "rahega rahegi bolte bola boli dekho dekha jayega jayegi hoti hota mat bhai saab ji"
)
HINGLISH_PARTICLES = _words("ka ki ke ko se me pe ho ye do na hi toh to wo")
# Words one of Indonesian and Malay uses and the other does not (or rarely does).
MALAY_ONLY = _words(
    "tak nak dah boleh sahaja kerana awak encik puan esok semalam penghantaran bungkusan kastam "
    "mahu ringgit rm hantar dihantar kat pejabat bila macam sebab je jer takde tiada emel "
    "poskod pasukan sokongan sempena cawangan baharu kaunter tertaip sepatutnya memulangkan saiz "
    "tuala langsir kos budak percuma tempahan bahagian tarikh selepas perkhidmatan khidmat wang "
    "lepas betul patut sahkan disahkan kusyen rekaan meraikan berkongsi sukacita sukacitanya "
    "dimaklumkan maklum makluman tandatangan kerajaan cik sila"
)
INDONESIAN_ONLY = _words(
    "kapan besok kemarin mau gimana nggak gak ga aja banget sih dong kak pengiriman paket kurir "
    "resi rupiah rp kiriman barangnya dikirim gan mas mbak bu pak lho deh kok yth kantor ternyata "
    "setelah ongkir perkenalkan bagian tanggal ukuran tim sepihak berhentikan sebelumnya "
    "pengirimannya alamatnya gratis biaya handuk gorden mengembalikan ibu bapak udah"
)

# Function words: frequent, short, and in one of the two families only.
ENGLISH_FUNCTION = _words(
    "the and is are was were my your our to of for it this that with on in not have has be "
    "will would can could please you we they i me am been from at by an or but if there"
)
MALAY_FUNCTION = _words(
    "yang dan saya ini itu tidak sudah belum untuk dengan ke di dari ada akan bisa boleh kami "
    "kita anda tolong lagi juga atau karena kerana sebab dalam pada oleh mohon hari"
)

_detector: LanguageDetector | None = None
_lock = threading.Lock()


def detector() -> LanguageDetector:
    """The process-wide detector, built on first use."""
    global _detector  # one detector per process, built lazily
    if _detector is None:
        with _lock:
            if _detector is None:
                _detector = (
                    LanguageDetectorBuilder.from_languages(*LANGUAGES)
                    .with_preloaded_language_models()
                    .build()
                )
    return _detector


def _share(words: Iterable[str], vocabulary: frozenset[str]) -> int:
    return sum(1 for word in words if word in vocabulary)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when there is too little to tell."""
    sample = text[:SAMPLE_CHARS]
    devanagari = len(_DEVANAGARI.findall(sample))
    latin = len(_LATIN.findall(sample))
    if devanagari + latin < 8:
        return None
    if devanagari >= 0.2 * (devanagari + latin):
        return "hi"
    words = _WORD.findall(sample.lower())
    strong = _share(words, HINGLISH)
    hinglish = strong + _share(words, HINGLISH_PARTICLES) / 2
    if strong >= 1 and hinglish >= max(2.0, 0.15 * len(words)):
        return "hi"
    obvious = _by_function_words(words)
    if obvious is not None:
        return obvious
    values = detector().compute_language_confidence_values(sample)
    if not values or values[0].value == 0:
        return None
    best = values[0].language
    if best in (Language.INDONESIAN, Language.MALAY):
        return _indonesian_or_malay(words, best)
    if best in CONFUSABLES:
        # A confusable won: the text is one of ours written oddly; take our best candidate.
        ours = [value.language for value in values if value.language not in CONFUSABLES]
        best = ours[0] if ours else Language.ENGLISH
        if best in (Language.INDONESIAN, Language.MALAY):
            return _indonesian_or_malay(words, best)
    return best.iso_code_639_1.name.lower()


def _by_function_words(words: list[str]) -> str | None:
    """English or Indonesian/Malay when their function words leave no doubt (most emails):
    lingua, the costly part, is then not needed. None when it is."""
    english, malay_family = _share(words, ENGLISH_FUNCTION), _share(words, MALAY_FUNCTION)
    if english >= 3 and english >= 3 * malay_family:
        return "en"
    if malay_family >= 3 and malay_family >= 3 * english:
        malay, indonesian = _share(words, MALAY_ONLY), _share(words, INDONESIAN_ONLY)
        if malay >= 2 and malay >= 2 * indonesian:
            return "ms"
        if indonesian >= 2 and indonesian >= 2 * malay:
            return "id"
    return None


def _indonesian_or_malay(words: list[str], best: Language) -> str:
    """lingua's choice within the close pair, overruled by words only one language uses."""
    malay, indonesian = _share(words, MALAY_ONLY), _share(words, INDONESIAN_ONLY)
    if malay != indonesian:
        return "ms" if malay > indonesian else "id"
    return "ms" if best is Language.MALAY else "id"
