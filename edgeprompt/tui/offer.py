"""The app's first start offers the real language models that suit this machine: the same offer, skip and
install as `edgeprompt setup` (edgeprompt.first_run.FirstRun), as dialogs.

Nothing is downloaded without a yes in a second dialog that names the size and the source; Skip (or Esc)
is remembered, so a user who works offline is not asked at every start; ctrl+g shows the choices again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text

from edgeprompt.tui.bubbles import Bubble
from edgeprompt.tui.widgets import ConfirmScreen, EdgeScreen, PickScreen

SKIP = "skip"
TITLE = (
    "No language model is installed: only questions about your documents can be answered. "
    "These suit this machine: pick one to download it (you are asked first), or Esc to skip and work "
    "offline (not asked again)."
)


class OfferScreen(PickScreen):
    """The recommended models and Skip (a PickScreen: Enter picks, Esc skips)."""


def offer_choices(picks: Sequence[Any]) -> list[tuple[str, Text]]:
    """(id, label) per recommended model, two lines each that fit 80 columns (size, memory at 4k context, speed,
    licence; the source is named in the consent dialog), then Skip."""
    out = []
    for c in picks:
        label = Text.assemble(
            (c.id, "bold"),
            f"  {c.download_gb:.1f} GB download · {c.memory_gb:.1f} GB memory at 4k context",
            (f"\n  {c.speed} ({c.as_dict()['speed_toks']}) · licence {c.license}", "dim"),
        )
        out.append((c.id, label))
    skip = Text.assemble(("Skip", "bold"), ("\n  work offline with documents only; ctrl+g shows these again", "dim"))
    return [*out, (SKIP, skip)]


def consent_text(choice: Any) -> str:
    return (
        f"{choice.download_gb:.1f} GB from the Hugging Face hub ({choice.repo}, licence {choice.license}), "
        f"checked and installed under the models folder; it then answers offline and needs about "
        f"{choice.memory_gb:.1f} GB of memory at 4k context. This needs the network once."
    )


class ModelOffer(EdgeScreen):
    """Mixed into the chat screen, which provides `update_status`."""

    update_status: Callable[..., None]

    def action_offer_models(self) -> None:
        self.offer_models(again=True)

    def offer_models(self, again: bool = False) -> None:
        """Show the offer when there is one (`again`: also after a skip, as the user asked for it)."""
        first = self.rt.first_run()
        picks = first.offer(again=again)
        if not picks:
            if again:
                self.notify(
                    "A language model is installed already (F1 ctrl+l picks it), or none fits this machine's memory: "
                    "see `edgeprompt models recommend --all`",
                    markup=False,
                )
            return

        def picked(value: str | None) -> None:
            choice = next((c for c in picks if c.id == value), None)
            if choice is None:  # Skip or Esc: remembered, so the next start does not ask again
                first.decline()
                self.notify("Skipped: ctrl+g (or `edgeprompt models recommend`) shows the models again", markup=False)
                return
            self.app.push_screen(
                ConfirmScreen(f"Download {choice.id}?", consent_text(choice), yes="Download"),
                lambda yes: self.download(choice) if yes else self.offer_models(again=True),
            )

        self.app.push_screen(OfferScreen(TITLE, offer_choices(picks)), picked)

    def download(self, choice: Any) -> None:
        first = self.rt.first_run()
        app = self.app

        def progress(line: str) -> None:  # from the worker thread: on the status line
            app.call_from_thread(self.update_status, line)

        def installed(result: Any) -> None:
            card = result[0]
            for notice in [b for b in self.query(Bubble) if b.role == "notice"]:
                notice.remove()  # the "no model" notice is no longer true
            self.update_status()
            self.notify(f"{card.id} is installed and answers from now on", markup=False)

        def job() -> Any:
            try:
                return first.install(choice.repo, choice.id, progress=progress)
            finally:  # on an error too: the status line stops saying "downloading"
                app.call_from_thread(self.update_status)

        self.notify(f"Downloading {choice.id} ({choice.download_gb:.1f} GB)…", markup=False)
        self.update_status(f"downloading {choice.repo}…")
        self.background(
            job,
            installed,
            title=f"Could not install {choice.id}",
            group="download",
            exclusive=True,
        )
