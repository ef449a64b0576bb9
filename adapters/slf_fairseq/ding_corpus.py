"""German-English example sentences from the Ding dictionary (Debian package ``trans-de-en``).

The Ding dictionary (TU Chemnitz, GPL) has about 206,000 entries ``DE | DE :: EN | EN``.
Some of the aligned alternatives are whole example sentences ("Wie ist deine Adresse? ::
What's your address?"). About 18,600 distinct pairs are kept: both sides start with a capital letter,
end with ``.``, ``?`` or ``!`` and the German side has at least ``min_words`` words. That
is a small real parallel corpus that can be had offline from the Debian registry:
``apt-get download`` fetches the package (6 MB) without installing it and ``dpkg-deb -x``
unpacks it into a cache folder.

Example::

    pairs = example_sentence_pairs(fetch_ding())
    pairs[0]   # ('Ich habe am ursprünglichen Entwurf ein paar Änderungen vorgenommen.', ...)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import List, Optional, Tuple, Union

PACKAGE = "trans-de-en"
DICTIONARY_PATH = Path("usr/share/trans/de-en")
SENTENCE_END = (".", "?", "!")


def default_cache_dir() -> Path:
    """``~/.cache/stochastic-loss/ding`` (not created).

    Example:
        >>> default_cache_dir().parts[-2:]
        ('stochastic-loss', 'ding')
    """
    return Path.home() / ".cache" / "stochastic-loss" / "ding"


def fetch_ding(cache_dir: Optional[Union[str, Path]] = None) -> Path:
    """The Ding dictionary file, downloading and unpacking the Debian package once.

    Args:
        cache_dir: where the package is unpacked (default :func:`default_cache_dir`).

    Returns:
        Path of the ``de-en`` dictionary file.

    Raises:
        RuntimeError: ``apt-get``/``dpkg-deb`` are missing or the download failed; the
            message says what to run by hand.
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    dictionary = cache / "root" / DICTIONARY_PATH
    if dictionary.is_file():
        return dictionary
    hint = (
        f"run by hand: cd {cache} && apt-get download {PACKAGE} && dpkg-deb -x {PACKAGE}_*.deb root "
        f"(or copy the package's {DICTIONARY_PATH} file to {dictionary})"
    )
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RuntimeError(f"fetching {PACKAGE} needs apt-get and dpkg-deb (a Debian-based system); {hint}")
    cache.mkdir(parents=True, exist_ok=True)
    download = subprocess.run(["apt-get", "download", PACKAGE], cwd=cache, capture_output=True, text=True)
    packages = sorted(cache.glob(f"{PACKAGE}_*.deb"))
    if download.returncode != 0 or not packages:
        raise RuntimeError(f"apt-get download {PACKAGE} failed: {download.stderr.strip()[-500:]}; {hint}")
    unpack = subprocess.run(["dpkg-deb", "-x", str(packages[-1]), str(cache / "root")], capture_output=True, text=True)
    if unpack.returncode != 0 or not dictionary.is_file():
        raise RuntimeError(f"dpkg-deb -x {packages[-1].name} failed: {unpack.stderr.strip()[-500:]}; {hint}")
    return dictionary


def is_sentence(text: str, min_words: int) -> bool:
    """A capitalised phrase that ends like a sentence, with at least ``min_words`` words.

    Example:
        >>> is_sentence("Wie ist deine Adresse?", 3), is_sentence("Abholservice {m}", 1)
        (True, False)
    """
    return text[:1].isupper() and text.endswith(SENTENCE_END) and len(text.split()) >= min_words


def example_sentence_pairs(dictionary: Union[str, Path], min_words: int = 3) -> List[Tuple[str, str]]:
    """Distinct (German, English) example-sentence pairs of the Ding dictionary, in file order.

    Each line's ``|``-separated alternatives are aligned one to one between the two
    sides; a line whose sides have different numbers of alternatives is skipped.

    Args:
        dictionary: the ``de-en`` file (:func:`fetch_ding`).
        min_words: fewest words on the German side.

    Returns:
        The pairs.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "de-en")
        >>> _ = open(path, "w", encoding="utf-8").write(
        ...     "# comment\\nHaus {n} :: house\\nDas ist gut. | Das ist schlecht. :: That is good. | That is bad.\\n")
        >>> example_sentence_pairs(path)
        [('Das ist gut.', 'That is good.'), ('Das ist schlecht.', 'That is bad.')]
    """
    pairs: List[Tuple[str, str]] = []
    seen = set()
    with open(dictionary, encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#") or " :: " not in line:
                continue
            german, english = line.rstrip("\n").split(" :: ", 1)
            german_parts, english_parts = german.split(" | "), english.split(" | ")
            if len(german_parts) != len(english_parts):
                continue
            for de, en in zip(german_parts, english_parts):
                pair = (de.strip(), en.strip())
                if pair not in seen and is_sentence(pair[0], min_words) and is_sentence(pair[1], 1):
                    seen.add(pair)
                    pairs.append(pair)
    return pairs
