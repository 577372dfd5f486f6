"""The MineThatData e-mail experiment (Hillstrom 2008), bundled with the package."""

from __future__ import annotations

import gzip
import hashlib
import io
from importlib import resources

from coarseopt.exceptions import CoarseoptError

__all__ = ["load_hillstrom", "HILLSTROM_SHA256", "DataIntegrityError"]

#: SHA-256 of the uncompressed CSV as published by MineThatData.
HILLSTROM_SHA256 = "0e5893329d8b93cefecc571777672028290ab69865718020c78c7284f291aece"


class DataIntegrityError(CoarseoptError, OSError):
    """A bundled data file whose content is not the published one."""


def load_hillstrom(*, verify: bool = True):
    """The MineThatData e-mail analytics challenge data (Kevin Hillstrom, 2008).

    64,000 customers who purchased within the last twelve months were randomized, with
    equal probability, to one of three arms (``segment``): an e-mail featuring men's
    merchandise (``"Mens E-Mail"``), one featuring women's merchandise
    (``"Womens E-Mail"``), or no e-mail (``"No E-Mail"``, the control). Outcomes were
    tracked for two weeks. Read from the copy bundled with coarseopt (no network).

    Columns
    -------
    recency : int
        Months since last purchase.
    history_segment : str
        Dollars spent in the past year, binned (``"1) $0 - $100"`` ...).
    history : float
        Dollars spent in the past year.
    mens, womens : int (0/1)
        Bought men's / women's merchandise in the past year.
    zip_code : str
        ``"Urban"``, ``"Surburban"`` (sic) or ``"Rural"``.
    newbie : int (0/1)
        New customer in the past twelve months.
    channel : str
        Purchase channels in the past year: ``"Phone"``, ``"Web"``, ``"Multichannel"``.
    segment : str
        The arm received.
    visit, conversion : int (0/1)
        Visited the website / purchased in the following two weeks.
    spend : float
        Dollars spent in the following two weeks.

    Parameters
    ----------
    verify : bool, default=True
        Check the SHA-256 of the uncompressed file against :data:`HILLSTROM_SHA256`.

    Returns
    -------
    pandas.DataFrame of shape (64000, 12)

    References
    ----------
    Hillstrom, K. (2008). The MineThatData E-Mail Analytics and Data Mining Challenge.
    https://blog.minethatdata.com/2008/03/minethatdata-e-mail-analytics-and-data.html

    Examples
    --------
    >>> import coarseopt as co
    >>> df = co.datasets.load_hillstrom()
    >>> df.shape
    (64000, 12)
    >>> sorted(df["segment"].unique())
    ['Mens E-Mail', 'No E-Mail', 'Womens E-Mail']
    """
    import pandas as pd

    raw = gzip.decompress(resources.files("coarseopt").joinpath("data", "hillstrom.csv.gz").read_bytes())
    if verify:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != HILLSTROM_SHA256:
            raise DataIntegrityError(
                f"The bundled hillstrom.csv.gz has SHA-256 {digest}, not the published {HILLSTROM_SHA256}; "
                "the installation is damaged. Reinstall coarseopt."
            )
    return pd.read_csv(io.BytesIO(raw))
