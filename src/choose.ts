// Which offer to take (until the policy module decides): the first offer, in the
// source's order, that is not the running version and was not tried already.
import type { HistoryEntry, RunningImage } from "./journal.ts";
import type { Offer } from "./sources/source.ts";

export function chooseOffer(running: RunningImage, offers: Offer[], history: HistoryEntry[]): { offer?: Offer; reasons: string[] } {
  const reasons: string[] = [];
  for (const offer of offers) {
    const tried = history.find((h) => h.id === offer.id);
    if (tried) reasons.push(`${offer.id}: already ${tried.status} (${tried.state}) on ${tried.endedAt}`);
    else if (offer.version === running.version && !offer.force) reasons.push(`${offer.id}: version ${offer.version} is running`);
    else return { offer, reasons: [...reasons, `${offer.id}: taken`] };
  }
  if (!offers.length) reasons.push("no offers");
  return { reasons };
}
