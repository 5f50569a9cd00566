"""The image loop's takes: first-frame candidates made by farm jobs (generate, refine, edit, inpaint,
outpaint; with control images and character references), compared, chosen and redone."""
