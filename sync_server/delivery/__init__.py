"""Conform in edit order and delivery masters (ProRes, H.264, H.265 with sound), run as farm CPU jobs
(docs/api.md, "Delivery")."""
