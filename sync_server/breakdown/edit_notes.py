"""Camera and edit notes in a script: transitions (`FADE IN:`, `CUT TO BLACK.`, `컷`) and title cards
(`SUPER:`, `TITLE OVER:`, `자막:`). None of them is a shot: each becomes a note on a neighbouring shot.
"""

from __future__ import annotations

import re

from .script import NoteTo

# English transitions, upper case as scripts write them; `... TO:` is any Fountain transition.
_TRANSITION = re.compile(
    r"^(?:(?:SMASH|MATCH|JUMP|HARD|QUICK|FAST|SLOW|TIME|RIPPLE|FLASH)\s+)?"
    r"(?:CUT|FADE|DISSOLVE|WIPE|IRIS|SMASH|FLASH)"
    r"(?:\s+(?:IN|OUT|UP|DOWN|BACK|AWAY|TO|TO BLACK|TO WHITE|FROM BLACK|FROM WHITE"
    r"|IN FROM BLACK|OUT TO BLACK))?"
    r"\s*[:.]?$"
    r"|^[A-Z0-9 '’.\-]+\bTO:$"
    r"|^(?:THE END|END|END CREDITS|BACK TO SCENE|BACK TO PRESENT|END FLASHBACK"
    r"|(?:BEGIN |END )?INTERCUT(?: WITH)?)\s*[:.]?$"
)
# Korean and short forms in Korean scripts.
_KOREAN_TRANSITION = re.compile(
    r"^\(?\s*(?:F\.?\s?I\.?|F\.?\s?O\.?|O\.?\s?L\.?|C\.?\s?O\.?|컷|디졸브|암전|페이드\s?인|페이드\s?아웃"
    r"|화면\s?전환|오버랩|끝)\s*[.)]?\s*\)?$",
    re.IGNORECASE,
)
# Transitions that lead into what follows rather than end what came before.
_OPENING = re.compile(r"^(?:FADE\s+(?:IN|UP)|.*FROM BLACK|F\.?\s?I\.?|페이드\s?인)", re.IGNORECASE)
# A title card's label and its text on the same line (`SUPER: Pine Point`) or on the lines below.
_CARD = re.compile(
    r"^(TITLE OVER|TITLE CARD|MAIN TITLE|TITLE|SUPER|SUPERIMPOSE|SUPERIMPOSED|SUPER OVER|CHYRON|CAPTION"
    r"|ON SCREEN|INTERTITLE|CARD|SUBTITLE|LOWER THIRD)\s*:\s*(.*)$"
)
_KOREAN_CARD = re.compile(r"^(자막|타이틀|캡션|슈퍼)\s*[:：]\s*(.*)$")


def transition(line: str, korean: bool = False) -> NoteTo | None:
    """`"next"` for a transition that opens what follows (`FADE IN:`), `"previous"` for one that ends
    what came before, None when the line is not a transition."""
    text = line.strip()
    if _TRANSITION.match(text) or (korean and (_KOREAN_TRANSITION.match(text) or _TRANSITION.match(text))):
        return "next" if opens(text) else "previous"
    return None


def opens(text: str) -> bool:
    """True for a transition into what follows (`FADE IN:`, `F.I.`)."""
    return bool(_OPENING.match(text.strip()))


def card_to(label: str) -> NoteTo:
    """`TITLE OVER:` is over the picture that follows; other cards over the one just described."""
    return "next" if label.upper() in ("TITLE OVER", "MAIN TITLE", "SUPER OVER") else "previous"


def title_card(line: str) -> tuple[str, str] | None:
    """(label, text on the same line) for a title card line, else None."""
    text = line.strip()
    found = _CARD.match(text) or _KOREAN_CARD.match(text)
    if not found:
        return None
    return found.group(1), found.group(2).strip()
