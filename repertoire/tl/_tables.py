"""Tidy result tables in a form that ``.write_h5ad`` stores and reads back."""

from __future__ import annotations

import pandas as pd


def writable(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with text columns holding missing values as categoricals.

    anndata writes an object column only when every value is a string; a categorical keeps the
    missing values and reads back as the same table.
    """
    table = table.copy()
    for column in table.columns:
        values = table[column]
        if values.dtype == object and values.isna().any():
            table[column] = pd.Categorical(values.astype(object).where(values.notna(), None))
        elif values.dtype == object:
            table[column] = values.astype(str) if values.map(type).eq(str).all() else values
    return table
