"""Obtaining the real tools the project drives (helm, kubectl), cached outside the repository."""
