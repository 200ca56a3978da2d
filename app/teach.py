"""Short explanations shown in the app where a student needs them."""
from __future__ import annotations

import streamlit as st

TEXT = {
    "intro": """
**ENAS** (Efficient Neural Architecture Search, Pham et al. 2018) searches for a good convolutional network.
Each candidate network (a *child*) is a chain of nodes; every node picks an **op** (a 1x1, 3x3 or 5x5
convolution, or a 3x3 max or average pool) and may also add the outputs of earlier nodes (**skip
connections**). A small LSTM, the **controller**, samples children; the children are trained and scored,
and the controller learns to sample better ones. Configure a run in the sidebar and press **Start**.
""",
    "sample": """
**What the controller samples.** For each node in turn, the controller's LSTM outputs a probability for
every op and draws one; then, for each earlier node, it draws whether to add that node's output (a skip
connection, drawn as an arc). One draw of all these decisions is one architecture, written on one line as
e.g. `c3 c5:1 mp:01`: node 0 is a 3x3 conv, node 1 a 5x5 conv that adds node 0, node 2 a max pool that
adds node 1. The picture shows the newest sample: the stem, the chain of nodes coloured by op, the skip
arcs, then the tail (pool, conv, classifier).
""",
    "reward": """
**Reward and baseline.** A sampled child is scored by its accuracy on one minibatch of *validation*
images, using the shared weights as they are (no training of its own). That accuracy, plus a small bonus
for the controller's entropy, is the **reward**. The **baseline** is a moving average of recent rewards:
the controller is pushed towards the decisions of children that beat the baseline and away from those of
children below it (REINFORCE). The **controller loss** is that signal (plus the skip penalty); the
**entropy** measures how undecided the controller still is: it falls as the policy settles.
""",
    "shared": """
**Why weights are shared.** Earlier NAS trained every candidate network from scratch: its whole search took
hundreds of GPU-days.
ENAS keeps one set of weights for every (node, op) pair: a sampled child just uses the weights of its
ops, and one SGD step on one minibatch trains exactly those. Children are scored with these shared
weights, so a search of thousands of children costs about as much as training one network. The
**child loss and accuracy** curves are this shared training, each point a different sampled child.
""",
    "policy": """
**The policy.** The heatmaps show what the controller would sample now: for each node the probability of
each op, and for each pair of nodes the probability of the skip connection. Early on they are nearly
uniform; as the controller learns they sharpen, and *How far the policy moved* rises from 0. Move the slider to
see how they changed over the epochs; *Is the controller learning?* (How ENAS works) shows a controller that
learns beside one that does not.
""",
    "history": """
**History.** Every architecture the controller sampled is kept with its step and reward (the full record
is in the run folder; very long runs show an evenly thinned selection here). Click a point, use the slider
or the buttons to look at one; red outlines mark the nodes that differ from the sample before it.
""",
    "derive": """
**Derive and final training.** After the search, *derive* samples children from the trained controller and
scores each on the *whole* validation split with the shared weights; the best is kept. The shared weights'
batch norms keep no statistics of their own (every child would need different ones), so each child's are
first recomputed on a few training batches: its score then means what the controller's minibatch reward
means, measured on every validation image. *Final training* then fine-tunes that child starting from the
shared weights (this app's default; 0 epochs just evaluates it) or retrains it from scratch (what the ENAS
paper does, and the `enas-paper` preset), and reports its validation and test accuracy.
""",
    "health": """
**Is the search healthy?** The controller learns from rewards measured with shared weights that are still
training. If it settles too early, on one op at a node or on all or no skips, the ops it abandoned stop
being trained, always look worse, and are never tried again: the search has *collapsed* (studies of ENAS and
NAS-Bench-201 report exactly this, often onto pooling or skip-heavy cells). The warnings watch the policy's
entropy, the share of the most frequent op at each node and the skip rate over recent samples, and a rank
check's Kendall tau. Remedies: a larger entropy weight, a higher temperature or smaller tanh constant, a
lower controller learning rate, or more epochs of shared-weight training before the controller sharpens.
The opposite failure is a controller that never settles at all: *the controller is not learning* warns when,
after `health_still_epochs` epochs of controller training, no node's op probabilities have moved more than
`health_still_move` from where they started (its updates are too small for the reward differences it sees), and
*no better than random* when its samples score no better than uniformly random architectures for
`health_random_epochs` epochs in a row.
""",
    "learning": """
**Is the controller learning?** The recorded demos in the Run tab's picker show both sides. When the controller
learns (the *laptop preset* demo, or a `quick` search of the shapes data), the policy heatmaps sharpen epoch by
epoch, *How far the policy moved* rises, and the gap between the controller's samples and uniformly random
architectures on the same shared weights (under that chart) grows. With the seed report's settings nothing
moves: after 100 epochs every op probability is still between 0.19 and 0.21, the heatmaps stay flat, and from
search epoch 20 on the app warns *the controller is not learning*. The rewards rise all the same, as the shared
weights train: a rising reward alone does not show that the controller learns.
""",
    "rankcheck": """
**The rank check.** Derive trusts the shared weights: it picks the child that scores best with them. The
rank check tests that trust. It retrains K of derive's children on their own, from scratch, with the
final-training recipe, and compares the two accuracies of each (both on the whole validation split). If the
shared weights rank children well, the points rise from left to right and **Kendall's tau** (the share of
pairs ordered the same way minus the share ordered the other way) is near 1; near 0, derive's choice is
close to a coin toss. Studies of weight sharing (Yu et al. 2019) often find it near 0: check before you trust.
The interval comes from resampling the K children (bootstrap); with few children it is wide.
""",
    "race": """
**The race.** Overlaid curves cannot say whether ENAS beat chance: both searches end with similar rewards
measured on shared weights. The race asks the real question. For each seed it runs an ENAS search and a
random search on the same settings, derives both, and retrains each side's derived architecture from
scratch with one recipe and budget; a third contestant is a handful of architectures drawn uniformly at
random and retrained the same way. Bars are the mean test accuracy over seeds, whiskers one standard
deviation (for the random architectures: their range around the median). Run it with
`python -m enas race --preset quick --seeds 0-2`.
""",
    "steer": """
**Steering a search.** While a search runs (or is paused) you can act on it and see the effect at once. *Which
ops each node may take*: untick an op to ban it at that node, leave one ticked to pin the node to it; a skip can
be forced on or off. The controller then samples only what is allowed: its logits for a banned op are set to
minus infinity, so its probabilities, its entropy and REINFORCE's log-probabilities are those of the restricted
policy (a pinned node has entropy 0); random search draws uniformly from what is allowed. *Settings*: the
controller's learning rate, entropy weight, temperature and tanh constant, a scale on the child learning rate,
controller steps per epoch and the sampling mode change from the next step on. **Pause** then **Run one step**
runs exactly one child step (only the weights of that child's path move: the chart says by how much) or one
controller step (each child's reward, baseline and advantage, and the op probabilities before and after at the
nodes that moved most). Every change is an event of the run: a dotted rule on every curve, a line in the table
above, a note on the slides, kept in recordings; a resumed run continues under it, and derive samples under the
constraints in force.

*A classroom script (the quick preset on shapes).* Start an ENAS search; after two or three
epochs the policy heatmap is still nearly uniform. Ask the class: "what happens if we forbid the pools?" Untick
maxpool3x3 and avgpool3x3 in every row and press *Apply constraints*: a dotted rule appears on the curves, and from
the next epoch the heatmap's two pool columns are 0 while the other three share their probability. Pause, press
*Run one step* a few times: each child step moves only its own path's weights; at a controller step, the children
above the baseline have positive advantages and their ops gain probability. Set the temperature to 5 and apply:
the logits are divided by 5, so the policy flattens and the entropy curve jumps up. *Lift every constraint* and
resume: the pools come back at the probability the controller now gives them.
""",
    "random": """
**Random search** samples every architecture uniformly and never learns: run it next to the ENAS
controller on the same settings to see what the controller adds.
""",
}


def explain(key: str, title: str, expanded: bool = False):
    """An expander with one explanation."""
    with st.expander(title, expanded=expanded, icon=":material/school:"):
        st.markdown(TEXT[key])
