"""Configuration: one ``Settings`` object and the brands file it points to."""

from tidings.config.brands import Brand, BrandsFile, load_brands
from tidings.config.settings import Settings

__all__ = ["Brand", "BrandsFile", "Settings", "load_brands"]
