"""Training loop: augmented, class-balanced batches -> Keras fit; the best epoch by validation score is kept."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import numpy.typing as npt

from trainer.augment import augment, center_crop
from trainer.dataset import FaceSet
from trainer.model import build_model, focal_loss
from trainer.options import TrainerOptions

log = logging.getLogger(__name__)


def sample_weights(y: npt.NDArray[np.int64], n_classes: int, power: float) -> npt.NDArray[np.float64]:
    """Per-sample drawing probability ~ count(class)**-power (power 1 = balanced, 0 = natural)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts[y] > 0, counts[y] ** -power, 0.0)
    return w / w.sum()


def class_weights(y: npt.NDArray[np.int64], n_classes: int) -> dict[int, float]:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return {i: float(len(y) / (n_classes * c)) if c else 0.0 for i, c in enumerate(counts)}


class AugmentedBatches(keras.utils.PyDataset):
    """One epoch = len(train) samples, drawn with ``probs`` (oversampling) and augmented on the fly."""

    def __init__(self, faces: FaceSet, y: npt.NDArray[np.int64], opts: TrainerOptions, probs: npt.NDArray[np.float64] | None):
        super().__init__(workers=opts.workers, use_multiprocessing=False)
        self.faces, self.y, self.opts, self.probs = faces, y, opts, probs
        self.n_classes = len(opts.labels)
        self.inner = opts.input_size / faces.context.shape[1]
        self.epoch = 0
        self._order = self._draw()

    def _draw(self) -> npt.NDArray[np.int64]:
        rng = np.random.default_rng((self.opts.seed, self.epoch))
        n = len(self.y)
        if self.probs is None:
            return rng.permutation(n)
        return rng.choice(n, size=n, replace=True, p=self.probs)

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.opts.batch_size)

    def __getitem__(self, i: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        idx = self._order[i * self.opts.batch_size:(i + 1) * self.opts.batch_size]
        rng = np.random.default_rng((self.opts.seed, self.epoch, i))
        s = self.opts.input_size
        if self.opts.augment.enabled:
            x = np.stack([augment(self.faces.context[j], s, self.inner, self.opts.augment, rng, float(self.faces.face_px[j]))
                          for j in idx])
        else:
            x = np.stack([center_crop(self.faces.context[j], s, self.inner) for j in idx])
        y = keras.utils.to_categorical(self.y[idx], self.n_classes).astype(np.float32)
        return x.astype(np.float32), y

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._draw()


def val_score(y: npt.NDArray[np.int64], pred: npt.NDArray[np.int64], n_classes: int) -> tuple[float, float, float]:
    """(score, accuracy, balanced recall); score = mean of accuracy and balanced recall."""
    acc = float((y == pred).mean()) if len(y) else 0.0
    recalls = [float((pred[y == c] == c).mean()) for c in range(n_classes) if (y == c).any()]
    bal = float(np.mean(recalls)) if recalls else 0.0
    return (acc + bal) / 2, acc, bal


class KeepBest(keras.callbacks.Callback):
    """Evaluates on the validation crops each epoch, logs progress and keeps the best weights.

    ``select``: 'score' (mean of accuracy and balanced recall: with a rare class, a few faces move it), 'loss'
    (validation cross-entropy, smoother) or 'last' (the last epoch).
    """

    def __init__(self, x_val: npt.NDArray[np.uint8], y_val: npt.NDArray[np.int64], n_classes: int, patience: int, epochs: int,
                 select: str = "score"):
        super().__init__()
        self.select = select
        self.x_val, self.y_val, self.n_classes = x_val.astype(np.float32), y_val, n_classes
        self.patience, self.epochs = patience, epochs
        self.best = -np.inf
        self.best_epoch = -1
        self.best_weights: list[npt.NDArray[np.float32]] | None = None
        self.history: list[dict[str, float]] = []
        self._t0 = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = dict(logs or {})
        probs = self.model.predict(self.x_val, batch_size=256, verbose=0)
        pred = probs.argmax(axis=1)
        score, acc, bal = val_score(self.y_val, pred, self.n_classes)
        onehot = np.eye(self.n_classes)[self.y_val]
        vloss = float(-np.mean(np.sum(onehot * np.log(np.clip(probs, 1e-7, 1.0)), axis=1)))
        row = {"epoch": epoch + 1, "loss": float(logs.get("loss", np.nan)), "accuracy": float(logs.get("accuracy", np.nan)),
               "val_loss": vloss, "val_accuracy": acc, "val_balanced_recall": bal, "val_score": score}
        self.history.append(row)
        merit = {"score": score, "loss": -vloss, "last": float(epoch)}[self.select]
        if merit > self.best:
            self.best, self.best_epoch = merit, epoch + 1
            self.best_weights = self.model.get_weights()
        elapsed = time.monotonic() - self._t0
        eta = elapsed / (epoch + 1) * (self.epochs - epoch - 1)
        log.info("epoch %d/%d loss %.4f acc %.4f | val loss %.4f acc %.4f bal-recall %.4f%s | %.0fs, eta %.0fs",
                 epoch + 1, self.epochs, row["loss"], row["accuracy"], vloss, acc, bal,
                 " *best*" if self.best_epoch == epoch + 1 else "", elapsed, eta)
        if self.patience and epoch + 1 - self.best_epoch >= self.patience:
            log.info("no improvement for %d epochs: stopping", self.patience)
            self.model.stop_training = True


@dataclass
class FitResult:
    model: keras.Model
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


def train(train_set: FaceSet, val_set: FaceSet, opts: TrainerOptions) -> FitResult:
    keras.utils.set_random_seed(opts.seed)
    index = {label: i for i, label in enumerate(opts.labels)}
    y_train = np.array([index[x] for x in train_set.labels], np.int64)
    y_val = np.array([index[x] for x in val_set.labels], np.int64)
    n_classes = len(opts.labels)
    model = build_model(n_classes, opts.input_size, opts.architecture, opts.alpha, opts.dropout, opts.weights,
                        blocks=opts.blocks, head_filters=opts.head_filters)
    probs = sample_weights(y_train, n_classes, opts.balance_power) if opts.balance == "oversample" else None
    batches = AugmentedBatches(train_set, y_train, opts, probs)
    steps = len(batches) * opts.epochs
    schedule = keras.optimizers.schedules.CosineDecay(opts.learning_rate, decay_steps=steps, warmup_target=None)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=opts.weight_decay)
    loss = (focal_loss(2.0, opts.label_smoothing) if opts.loss == "focal"
            else keras.losses.CategoricalCrossentropy(label_smoothing=opts.label_smoothing))
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    keep = KeepBest(val_set.exact, y_val, n_classes, opts.patience, opts.epochs, opts.select)
    t0 = time.monotonic()
    model.fit(batches, epochs=opts.epochs, verbose=0, callbacks=[keep],
              class_weight=class_weights(y_train, n_classes) if opts.balance == "class_weight" else None)
    if keep.best_weights is not None:
        model.set_weights(keep.best_weights)
    log.info("kept epoch %d (selected by %s)", keep.best_epoch, opts.select)
    return FitResult(model, keep.history, keep.best_epoch, time.monotonic() - t0)
