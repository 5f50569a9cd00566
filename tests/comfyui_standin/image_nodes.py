"""Weightless image-model nodes of the stand-in: loaders, text encoders, VAE, samplers, inpaint/outpaint,
ControlNet and instruction-edit conditioning, executed with Pillow and numpy.

Nothing is learned or loaded: a loader hands out a `Weights` naming its files, a "latent" keeps the pixels
(so VAEEncode/VAEDecode are lossless apart from ComfyUI's crop to a multiple of 8), and the fake sampler
paints a deterministic pattern from the seed and the prompt. What a graph asks for is still visible in the
output, so tests can check it: a noise mask or an inpaint model's mask limits the change to the masked area
(unmasked pixels come out identical), `denoise` < 1 keeps the result that close to the input, ControlNet
mixes the control image's luminance in by strength × (end − start), and Qwen's edit conditioning starts
from its first reference image. Shapes and rules follow ComfyUI 0.3.64's nodes (crop offsets,
ImagePadForOutpaint's feathering, LoadImageMask's channels, ImageCompositeMasked).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from .nodes import NodeContext, NodeResult, annotated_path

LATENT_STEP = 8  # pixels per latent cell: VAEEncode crops to a multiple of it
EDIT_KEEP = 0.7  # how much of the reference image an instruction edit keeps
REFERENCE_MIX = 0.2  # how much the further reference images tint an edit


@dataclass(frozen=True)
class Weights:
    """MODEL, CLIP, VAE or CONTROL_NET: which files a loader "loaded" and what patched it."""

    kind: str
    files: tuple[str, ...]
    patches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Control:
    image: Image.Image
    strength: float
    start: float
    end: float

    @property
    def weight(self) -> float:
        """How much of the control image's luminance the fake sampler mixes in."""
        return min(1.0, max(0.0, self.strength)) * max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Cond:
    """One CONDITIONING entry (ComfyUI: `[tensor, {extras}]`)."""

    text: str
    guidance: float | None = None
    concat_mask: Image.Image | None = None  # inpaint models: what to repaint
    controls: tuple[Control, ...] = ()
    references: tuple[Image.Image, ...] = ()


@dataclass
class Latent:
    """LATENT: the pixels themselves (None for an empty latent), their size and an optional noise mask."""

    width: int
    height: int
    images: list[Image.Image] | None = None
    noise_mask: Image.Image | None = None
    batch: int = 1

    def with_images(self, images: list[Image.Image]) -> Latent:
        return dataclasses.replace(self, images=images, batch=len(images))


@dataclass(frozen=True)
class Sigmas:
    steps: int
    denoise: float


@dataclass(frozen=True)
class Guider:
    model: Weights
    positive: list[Cond]
    negative: list[Cond] = field(default_factory=list)


# ---- pixels --------------------------------------------------------------------------------------------
def _array(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float64)


def _mask_array(mask: Image.Image, size: tuple[int, int]) -> np.ndarray:
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(mask, dtype=np.float64)[..., None] / 255.0


def _image(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "RGB")


def _crop_to_latent(img: Image.Image) -> Image.Image:
    """ComfyUI's `vae_encode_crop_pixels`: down to a multiple of 8, the offset centred."""
    width, height = img.width // LATENT_STEP * LATENT_STEP, img.height // LATENT_STEP * LATENT_STEP
    if (width, height) == img.size:
        return img
    left, top = (img.width % LATENT_STEP) // 2, (img.height % LATENT_STEP) // 2
    return img.crop((left, top, left + width, top + height))


def pattern(seed: int, text: str, size: tuple[int, int]) -> np.ndarray:
    """The fake model's picture: smooth colour blobs fixed by the seed and the prompt."""
    rng = np.random.default_rng([seed % 2**64, zlib.crc32(text.encode("utf-8"))])
    cells = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    return _array(Image.fromarray(cells, "RGB").resize(size, Image.Resampling.BICUBIC))


def luminance(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    grey = img.convert("L").resize(size, Image.Resampling.BILINEAR)
    return np.repeat(np.asarray(grey, dtype=np.float64)[..., None], 3, axis=2)


def fake_sample(seed: int, positive: list[Cond], latent: Latent, denoise: float) -> Latent:
    """What every sampler node returns; deterministic for the same seed, prompt and inputs."""
    size = (latent.width, latent.height)
    cond = positive[0] if positive else Cond("")
    mask = latent.noise_mask if latent.noise_mask is not None else cond.concat_mask
    out = []
    for index in range(latent.batch):
        made = pattern(seed + index, cond.text, size)
        if cond.references:
            base = _array(cond.references[0].resize(size, Image.Resampling.BICUBIC))
            if len(cond.references) > 1:
                others = np.mean([_array(r.resize(size)) for r in cond.references[1:]], axis=0)
                base = base * (1 - REFERENCE_MIX) + others * REFERENCE_MIX
            made = base * EDIT_KEEP + made * (1 - EDIT_KEEP)
        for control in cond.controls:
            made = made * (1 - control.weight) + luminance(control.image, size) * control.weight
        start = latent.images[index % len(latent.images)] if latent.images else None
        if start is None:
            out.append(_image(made))
            continue
        before = _array(start)
        result = before * (1 - denoise) + made * denoise
        if mask is not None:
            result = before + _mask_array(mask, size) * (result - before)
        out.append(_image(result))
    return dataclasses.replace(latent, images=out, batch=len(out))


# ---- loaders --------------------------------------------------------------------------------------
def _loader(kind: str, *names: str) -> Callable[[dict[str, Any], NodeContext], NodeResult]:
    def load(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
        return (Weights(kind, tuple(str(inputs[n]) for n in names if n in inputs)),), None

    return load


def checkpoint_loader(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    files = (str(inputs["ckpt_name"]),)
    return (Weights("model", files), Weights("clip", files), Weights("vae", files)), None


def lora_loader(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    model: Weights = inputs["model"]
    patched = dataclasses.replace(model, patches=(*model.patches, f"lora:{inputs['lora_name']}"))
    if "clip" not in inputs:
        return (patched,), None
    return (patched, inputs["clip"]), None


def _model_patch(name: str) -> Callable[[dict[str, Any], NodeContext], NodeResult]:
    def patch(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
        model: Weights = inputs["model"]
        return (dataclasses.replace(model, patches=(*model.patches, name)),), None

    return patch


def load_image_mask(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    """LoadImageMask: one channel as the mask; `alpha` is inverted (1 − alpha), like LoadImage's MASK."""
    img = ImageOps.exif_transpose(Image.open(annotated_path(inputs["image"], ctx)))
    if img.getbands() != ("R", "G", "B", "A"):
        if img.mode == "I":
            img = img.point(lambda v: v * (1 / 255))
        img = img.convert("RGBA")
    channel = str(inputs["channel"])[0].upper()
    if channel not in img.getbands():
        return ([Image.new("L", (64, 64), 0)],), None
    mask = img.getchannel(channel)
    return ([ImageOps.invert(mask) if channel == "A" else mask],), None


# ---- conditioning ---------------------------------------------------------------------------------
def clip_text_encode(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return ([Cond(str(inputs["text"]))],), None


def flux_guidance(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    guidance = float(inputs["guidance"])
    return ([dataclasses.replace(c, guidance=guidance) for c in inputs["conditioning"]],), None


def text_encode_qwen_edit(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    """TextEncodeQwenImageEdit(Plus): the prompt plus the images as reference latents (with a VAE)."""
    names = ("image", "image1", "image2", "image3")
    images = [inputs[n][0] for n in names if inputs.get(n) is not None]
    references = tuple(images) if inputs.get("vae") is not None else ()
    return ([Cond(str(inputs["prompt"]), references=references)],), None


def control_net_apply_advanced(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    positive, negative = inputs["positive"], inputs["negative"]
    strength = float(inputs["strength"])
    if strength == 0:
        return (positive, negative), None
    control = Control(
        inputs["image"][0], strength, float(inputs["start_percent"]), float(inputs["end_percent"])
    )
    positive, negative = (
        [dataclasses.replace(c, controls=(*c.controls, control)) for c in conds]
        for conds in (positive, negative)
    )
    return (positive, negative), None


def inpaint_model_conditioning(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    """The source pixels (cropped to the latent grid) as the latent, the mask on both conditionings and, with
    `noise_mask`, on the latent too."""
    pixels = [_crop_to_latent(img) for img in inputs["pixels"]]
    width, height = pixels[0].size
    mask = inputs["mask"][0]
    full = inputs["pixels"][0].size
    if mask.size != full:
        mask = mask.resize(full, Image.Resampling.BILINEAR)
    left, top = (full[0] % LATENT_STEP) // 2, (full[1] % LATENT_STEP) // 2
    mask = mask.crop((left, top, left + width, top + height))
    conds = [[dataclasses.replace(c, concat_mask=mask) for c in inputs[k]] for k in ("positive", "negative")]
    latent = Latent(width, height, pixels, mask if inputs["noise_mask"] else None, len(pixels))
    return (conds[0], conds[1], latent), None


def image_pad_for_outpaint(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    """ImagePadForOutpaint: a 0.5-grey border; mask 1 there and a squared ramp `feathering` pixels into the
    image along the padded sides (when the image is over twice as big)."""
    left, top, right, bottom = (int(inputs[k]) for k in ("left", "top", "right", "bottom"))
    feathering = int(inputs["feathering"])
    images, masks = [], []
    for img in inputs["image"]:
        width, height = img.size
        padded = Image.new("RGB", (width + left + right, height + top + bottom), (128, 128, 128))
        padded.paste(img, (left, top))
        ramp = np.zeros((height, width))
        if feathering > 0 and feathering * 2 < height and feathering * 2 < width:
            rows, cols = np.mgrid[0:height, 0:width]
            distance = np.minimum.reduce(
                [
                    rows if top else np.full_like(rows, height),
                    height - rows if bottom else np.full_like(rows, height),
                    cols if left else np.full_like(cols, width),
                    width - cols if right else np.full_like(cols, width),
                ]
            )
            ramp = np.where(distance < feathering, ((feathering - distance) / feathering) ** 2, 0.0)
        mask = np.ones((padded.height, padded.width))
        mask[top : top + height, left : left + width] = ramp
        images.append(padded)
        masks.append(Image.fromarray(np.clip(np.rint(mask * 255), 0, 255).astype(np.uint8), "L"))
    return (images, masks), None


# ---- latents and VAE ------------------------------------------------------------------------------
def empty_latent(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (Latent(int(inputs["width"]), int(inputs["height"]), None, None, int(inputs["batch_size"])),), None


def vae_encode(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    pixels = [_crop_to_latent(img.convert("RGB")) for img in inputs["pixels"]]
    return (Latent(pixels[0].width, pixels[0].height, pixels, None, len(pixels)),), None


def vae_decode(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    latent: Latent = inputs["samples"]
    size = (latent.width, latent.height)
    images = latent.images or [Image.new("RGB", size, (128, 128, 128))] * latent.batch
    return (list(images),), None


def set_latent_noise_mask(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (dataclasses.replace(inputs["samples"], noise_mask=inputs["mask"][0]),), None


# ---- sampling -------------------------------------------------------------------------------------
def ksampler(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    seed, denoise = int(inputs["seed"]), float(inputs["denoise"])
    return (fake_sample(seed, inputs["positive"], inputs["latent_image"], denoise),), None


def random_noise(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (int(inputs["noise_seed"]),), None


def ksampler_select(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (str(inputs["sampler_name"]),), None


def basic_scheduler(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (Sigmas(int(inputs["steps"]), float(inputs["denoise"])),), None


def basic_guider(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (Guider(inputs["model"], list(inputs["conditioning"])),), None


def sampler_custom_advanced(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    guider: Guider = inputs["guider"]
    sigmas: Sigmas = inputs["sigmas"]
    latent = fake_sample(int(inputs["noise"]), guider.positive, inputs["latent_image"], sigmas.denoise)
    return (latent, latent), None


# ---- images ---------------------------------------------------------------------------------------
def canny(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    """Edges as white on black: Sobel magnitude over the high threshold (no hysteresis, no thinning)."""
    out = []
    for img in inputs["image"]:
        grey = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
        padded = np.pad(grey, 1, mode="edge")
        gx = (padded[1:-1, 2:] - padded[1:-1, :-2]) * 2 + padded[:-2, 2:] - padded[:-2, :-2]
        gx += padded[2:, 2:] - padded[2:, :-2]
        gy = (padded[2:, 1:-1] - padded[:-2, 1:-1]) * 2 + padded[2:, :-2] - padded[:-2, :-2]
        gy += padded[2:, 2:] - padded[:-2, 2:]
        edges = np.hypot(gx, gy) / 4.0 >= float(inputs["high_threshold"])
        out.append(Image.fromarray((edges * 255).astype(np.uint8), "L").convert("RGB"))
    return (out,), None


def image_composite_masked(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    """ImageCompositeMasked (multiplier 1): source over destination at x, y through the mask (stretched to
    the source's size); outside the mask the destination stays exactly as it was."""
    out = []
    sources = inputs["source"]
    for index, destination in enumerate(inputs["destination"]):
        source = sources[index % len(sources)]
        if inputs["resize_source"]:
            source = source.resize(destination.size, Image.Resampling.BILINEAR)
        x = max(-source.width, min(int(inputs["x"]), destination.width))
        y = max(-source.height, min(int(inputs["y"]), destination.height))
        mask = inputs.get("mask")
        weight = (
            np.ones((source.height, source.width, 1)) if mask is None else _mask_array(mask[0], source.size)
        )
        left, top = max(x, 0), max(y, 0)
        right, bottom = min(x + source.width, destination.width), min(y + source.height, destination.height)
        if right <= left or bottom <= top:
            out.append(destination)
            continue
        dest = _array(destination)
        src = _array(source)[top - y : bottom - y, left - x : right - x]
        part = weight[top - y : bottom - y, left - x : right - x]
        region = dest[top:bottom, left:right]
        dest[top:bottom, left:right] = region + part * (src - region)
        out.append(_image(dest))
    return (out,), None


IMAGE_NODE_FUNCTIONS: dict[str, Callable[[dict[str, Any], NodeContext], NodeResult]] = {
    "CheckpointLoaderSimple": checkpoint_loader,
    "UNETLoader": _loader("model", "unet_name"),
    "CLIPLoader": _loader("clip", "clip_name"),
    "DualCLIPLoader": _loader("clip", "clip_name1", "clip_name2"),
    "VAELoader": _loader("vae", "vae_name"),
    "ControlNetLoader": _loader("control_net", "control_net_name"),
    "SetUnionControlNetType": lambda inputs, ctx: ((inputs["control_net"],), None),  # the mode is not drawn
    "LoraLoader": lora_loader,
    "LoraLoaderModelOnly": lora_loader,
    "ModelSamplingFlux": _model_patch("sampling:flux"),
    "ModelSamplingAuraFlow": _model_patch("sampling:auraflow"),
    "ModelSamplingSD3": _model_patch("sampling:sd3"),
    "DifferentialDiffusion": _model_patch("differential_diffusion"),
    "CFGNorm": _model_patch("cfg_norm"),
    "LoadImageMask": load_image_mask,
    "CLIPTextEncode": clip_text_encode,
    "FluxGuidance": flux_guidance,
    "TextEncodeQwenImageEdit": text_encode_qwen_edit,
    "TextEncodeQwenImageEditPlus": text_encode_qwen_edit,
    "ControlNetApplyAdvanced": control_net_apply_advanced,
    "InpaintModelConditioning": inpaint_model_conditioning,
    "ImagePadForOutpaint": image_pad_for_outpaint,
    "EmptyLatentImage": empty_latent,
    "EmptySD3LatentImage": empty_latent,
    "VAEEncode": vae_encode,
    "VAEDecode": vae_decode,
    "SetLatentNoiseMask": set_latent_noise_mask,
    "KSampler": ksampler,
    "RandomNoise": random_noise,
    "KSamplerSelect": ksampler_select,
    "BasicScheduler": basic_scheduler,
    "BasicGuider": basic_guider,
    "SamplerCustomAdvanced": sampler_custom_advanced,
    "Canny": canny,
    "ImageCompositeMasked": image_composite_masked,
}
