"""
The deployable slicing decision: state -> PRB allocation, a numpy forward pass of the trained
actors (no torch).

The slice broker node calls :meth:`SlicingPolicy.decide` once per decision slot. Each of the two
actors of the dual-agent slicer (:mod:`ior_ros.core.slicing.agents`) is one small perceptron
``h_{l+1} = relu(h_l W_l + b_l)`` with a ``tanh`` output, shared by the users of its slice and
applied to each user's own features plus a cell-wide context
(:meth:`~ior_ros.core.slicing.spaces.ObservationLayout.user_index`,
:meth:`~ior_ros.core.slicing.spaces.ObservationLayout.context`). Their outputs (eMBB users
first) are the action of :class:`~ior_ros.core.slicing.env.TeleopSlicingEnv`, mapped to PRB
counts exactly as the environment does (softmax shares, one PRB each, largest remainder:
constraints 8b and 8d of seed 003) and, given per-PRB rates, to PRBs by the sum-rate assignment
(8c).

File format (``policy.npz``, a few tens of kB): arrays ``embb/W0, embb/b0, ...``,
``urllc/W0, ...`` (``W`` stored ``[in, out]``) and ``metadata``, a JSON string with the
observation layout (``n_embb``, ``n_urllc``), ``n_prb``, ``action_logit_scale``, the environment
configuration the actors were trained on, the final Lagrange multiplier and how it was trained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.artifacts import ArtifactFormat, artifact_contents, read_artifact, write_artifact
from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.slicing.spaces import (
    CARRY_BOUND,
    ObservationLayout,
    assign_prbs,
    round_quota,
)

__all__ = ['POLICY_ARTIFACT', 'POLICY_FORMAT', 'POLICY_FILE', 'DenseLayer', 'SlicingPolicy',
           'mlp_forward']

POLICY_FILE = 'policy.npz'
POLICY_ARTIFACT = ArtifactFormat('ior_ros.slicing_policy', 1, POLICY_FILE, 'npz',
                                 'slicing policy', made_by='`ior train slicing`')
POLICY_FORMAT = POLICY_ARTIFACT.id

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class DenseLayer(NamedTuple):
    """One affine layer ``y = x W + b``."""

    weight: FloatArray  # [in, out]
    bias: FloatArray  # [out]


def mlp_forward(layers: Sequence[DenseLayer], x: FloatArray) -> FloatArray:
    """ReLU hidden layers, tanh output: ``tanh(... relu(x W0 + b0) ... W_L + b_L)``."""
    h = x
    for layer in layers[:-1]:
        h = np.maximum(h @ layer.weight + layer.bias, 0.0)
    out: FloatArray = np.tanh(h @ layers[-1].weight + layers[-1].bias)
    return out


def _check_layers(layers: Sequence[DenseLayer], n_in: int, n_out: int, name: str) -> None:
    if not layers:
        raise ModelError(f'{name} actor has no layers')
    width = n_in
    for index, layer in enumerate(layers):
        if layer.weight.ndim != 2 or layer.weight.shape[0] != width:
            raise DimensionError(f'{name} layer {index}: W has shape {layer.weight.shape}; '
                                 f'expected [{width}, out]')
        if layer.bias.shape != (layer.weight.shape[1],):
            raise DimensionError(f'{name} layer {index}: b has shape {layer.bias.shape}; '
                                 f'expected ({layer.weight.shape[1]},)')
        if not (np.all(np.isfinite(layer.weight)) and np.all(np.isfinite(layer.bias))):
            raise ModelError(f'{name} layer {index} has NaN or infinite weights')
        width = layer.weight.shape[1]
    if width != n_out:
        raise DimensionError(f'{name} actor outputs {width} values per user; expected {n_out}')


class SlicingPolicy:
    """
    The trained dual-agent slicer as a pure-numpy decision function.

    Args:
        embb_layers: the eMBB users' shared actor (own 2 features + 8 context -> 1).
        urllc_layers: the URLLC users' shared actor (own 4 features + 8 context -> 1).
        n_embb, n_urllc, n_prb: the cell the actors were trained for.
        action_logit_scale: ``s`` of the softmax shares ``softmax(s a)``.
        metadata: JSON-ready description (environment configuration, training command, seed...).
        rounding_carry: keep the PRB rounding residue between decisions, as the environment the
            actors were trained in does (``env.rounding_carry``); None: from
            ``metadata['env_config']`` (False when absent).

    Raises:
        DimensionError: layer shapes that do not chain from the observation to the actions.
        ModelError: non-finite weights, K < n_e + n_u.
    """

    def __init__(self, embb_layers: Sequence[DenseLayer], urllc_layers: Sequence[DenseLayer],
                 n_embb: int, n_urllc: int, n_prb: int, action_logit_scale: float,
                 metadata: Mapping[str, Any] | None = None,
                 rounding_carry: bool | None = None) -> None:
        self.layout = ObservationLayout(int(n_embb), int(n_urllc))
        if n_prb < self.layout.n_users:
            raise ModelError(f'n_prb = {n_prb} must be >= n_embb + n_urllc = '
                             f'{self.layout.n_users} (constraint 8d)')
        if not action_logit_scale > 0:
            raise ModelError(f'action_logit_scale = {action_logit_scale!r}: must be > 0')
        self.n_prb = int(n_prb)
        self.action_logit_scale = float(action_logit_scale)
        self.embb_layers = [DenseLayer(np.ascontiguousarray(w, dtype=np.float64),
                                       np.ascontiguousarray(b, dtype=np.float64))
                            for w, b in embb_layers]
        self.urllc_layers = [DenseLayer(np.ascontiguousarray(w, dtype=np.float64),
                                        np.ascontiguousarray(b, dtype=np.float64))
                             for w, b in urllc_layers]
        self._embb_index = self.layout.user_index('embb')  # [n_e, 2]
        self._urllc_index = self.layout.user_index('urllc')  # [n_u, 4]
        ctx = ObservationLayout.CONTEXT_SIZE
        _check_layers(self.embb_layers, self._embb_index.shape[1] + ctx, 1, 'eMBB')
        _check_layers(self.urllc_layers, self._urllc_index.shape[1] + ctx, 1, 'URLLC')
        # fast context: the observation is five contiguous segments (ObservationLayout); one
        # reduceat gives their sums, one their maxima, appended after the observation as
        # ext = [obs, sums / sizes, maxima]; each actor's input is then one gather from ext
        lay = self.layout
        segments = (lay.embb_queue, lay.urllc_queue, lay.urllc_delay, lay.channel, lay.dexterity)
        self._starts = np.array([s.start for s in segments], dtype=np.intp)  # [5]
        self._inv_sizes = 1.0 / np.array([s.stop - s.start for s in segments], dtype=float)
        size = lay.size
        # ObservationLayout.context order: mean/max eMBB queue, URLLC queue, URLLC delay,
        # mean channel, mean DI
        ctx_index = np.array([size, size + 5, size + 1, size + 6, size + 2, size + 7, size + 3,
                              size + 4], dtype=np.intp)  # [8]
        self._embb_gather = np.concatenate(
            [self._embb_index, np.tile(ctx_index, (lay.n_embb, 1))], axis=1)  # [n_e, 2 + 8]
        self._urllc_gather = np.concatenate(
            [self._urllc_index, np.tile(ctx_index, (lay.n_urllc, 1))], axis=1)  # [n_u, 4 + 8]
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._spare = float(self.n_prb - self.layout.n_users)
        self._n = self.layout.n_users
        if rounding_carry is None:
            env_config = self.metadata.get('env_config') or {}
            rounding_carry = bool(env_config.get('rounding_carry', False))
        self.rounding_carry = bool(rounding_carry)
        self._carry = np.zeros(self._n)  # [n] PRB rounding residue

    def reset(self) -> None:
        """Forget the rounding carry (start of an episode / after a reconfiguration)."""
        self._carry[:] = 0.0

    # ------------------------------------------------------------------------------------------
    # decisions

    def action(self, observation: npt.ArrayLike) -> FloatArray:
        """The joint action ``[n_e + n_u]`` in [-1, 1] (eMBB actor first) for one observation."""
        x = np.asarray(observation, dtype=np.float64)
        if x.shape != (self.layout.size,):
            raise DimensionError(f'observation has shape {x.shape}; expected '
                                 f'({self.layout.size},)')
        ext = np.concatenate((x, np.add.reduceat(x, self._starts) * self._inv_sizes,
                              np.maximum.reduceat(x, self._starts)))  # [size + 10]
        n_e = self.layout.n_embb
        out = np.empty(self._n)
        out[:n_e] = mlp_forward(self.embb_layers, ext[self._embb_gather])[:, 0]
        out[n_e:] = mlp_forward(self.urllc_layers, ext[self._urllc_gather])[:, 0]
        return out

    def decide(self, observation: npt.ArrayLike) -> IntArray:
        """
        PRB counts ``[n_e + n_u]`` (each >= 1, summing to K) for one observation.

        The same mapping as :func:`ior_ros.core.slicing.spaces.action_to_prb_counts` (with the
        policy's own rounding carry when ``rounding_carry``; call :meth:`reset` when the
        environment restarts), written for speed (the decision of the slice broker's control
        loop).
        """
        a = self.action(observation)
        z = self.action_logit_scale * a
        e = np.exp(z - z.max())
        quota = e * (self._spare / e.sum())  # [n]
        if self.rounding_carry:
            quota += self._carry
        counts: IntArray = np.floor(np.maximum(quota, 0.0)).astype(np.int64)  # [n]
        left = int(self._spare) - int(counts.sum())
        if left > 0:
            order = np.argsort(counts - quota, kind='stable')  # largest remainder first
            counts[order[:left]] += 1
        elif left < 0:
            counts = round_quota(quota, int(self._spare))
        if self.rounding_carry:
            np.clip(quota - counts, -CARRY_BOUND, CARRY_BOUND, out=self._carry)
        counts += 1
        return counts

    def allocate(self, observation: npt.ArrayLike, prb_rates_bps: npt.ArrayLike) -> IntArray:
        """The owner ``[K]`` of every PRB: :meth:`decide` then the sum-rate assignment."""
        return assign_prbs(self.decide(observation), np.asarray(prb_rates_bps, dtype=float))

    # ------------------------------------------------------------------------------------------
    # files

    def _arrays(self) -> dict[str, npt.NDArray[Any]]:
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, layers in (('embb', self.embb_layers), ('urllc', self.urllc_layers)):
            for index, layer in enumerate(layers):
                arrays[f'{name}/W{index}'] = layer.weight.astype(np.float32)
                arrays[f'{name}/b{index}'] = layer.bias.astype(np.float32)
        return arrays

    def save(self, path: str | Path) -> Path:
        """Write ``policy.npz`` atomically (``path`` a file, or a folder to hold it)."""
        meta = dict(self.metadata)
        meta.update({'n_embb': self.layout.n_embb, 'n_urllc': self.layout.n_urllc,
                     'n_prb': self.n_prb, 'action_logit_scale': self.action_logit_scale,
                     'rounding_carry': self.rounding_carry})
        return write_artifact(path, POLICY_ARTIFACT, meta, self._arrays())

    @classmethod
    def load(cls, path: str | Path) -> SlicingPolicy:
        """
        Read a policy from ``policy.npz`` or a folder holding it.

        Raises:
            ArtifactError: missing or unreadable file, another format or version.
        """
        saved = read_artifact(path, POLICY_ARTIFACT)
        meta = saved.document
        layers: dict[str, list[DenseLayer]] = {'embb': [], 'urllc': []}
        with artifact_contents(saved.path, POLICY_ARTIFACT):
            for name, bucket in layers.items():
                index = 0
                while f'{name}/W{index}' in saved.arrays:
                    bucket.append(DenseLayer(saved.arrays[f'{name}/W{index}'],
                                             saved.arrays[f'{name}/b{index}']))
                    index += 1
            return cls(layers['embb'], layers['urllc'], int(meta['n_embb']),
                       int(meta['n_urllc']), int(meta['n_prb']),
                       float(meta['action_logit_scale']), meta,
                       rounding_carry=meta.get('rounding_carry'))
