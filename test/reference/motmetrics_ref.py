#!/usr/bin/env python3
"""Reference MOT metrics for one gt/results pair, printed as one JSON object.

CLEAR MOT and identity metrics come from py-motmetrics (the way its eval_motchallenge app runs:
gt loaded with min_confidence=1, IoU distance with max 0.5). HOTA comes from TrackEval's own
MotChallenge2DBox dataset loader and HOTA metric. Keys and conventions match mei-eval --json:
ratios are fractions, motp is the mean IoU of matches (1 - py-motmetrics' distance-based motp).

A 9-column gt (MOT16+: flag, class, visibility) is evaluated with the class and distractor rules
(py-motmetrics CLEAR_MOT_M, TrackEval benchmark MOT17); other gt files as MOT15.

usage: motmetrics_ref.py GT RES
"""
import json
import math
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np

# motmetrics 1.4.0 calls np.asfarray, which numpy 2 removed; TrackEval from PyPI needs numpy 2.
if not hasattr(np, 'asfarray'):
    np.asfarray = lambda a, dtype=float: np.asarray(a, dtype=dtype)

import motmetrics as mm  # noqa: E402
import trackeval  # noqa: E402

warnings.filterwarnings('ignore')


def num_columns(path):
    with open(path) as fp:
        for line in fp:
            if line.strip():
                return len([f for f in line.strip().replace(',', ' ').split() if f])
    return 0


def max_frame(path):
    frames = [int(float(line.replace(',', ' ').split()[0])) for line in open(path) if line.strip()]
    return max(frames) if frames else 1


def motmetrics_summary(gt_path, res_path, mot16, seq_length, workdir):
    if mot16:
        ini = os.path.join(workdir, 'seqinfo.ini')
        with open(ini, 'w') as fp:
            fp.write('[Sequence]\nname=seq\nseqLength=%d\n' % seq_length)
        gt = mm.io.loadtxt(gt_path, fmt='mot16')
        res = mm.io.loadtxt(res_path, fmt='mot16')
        acc, _ = mm.utils.CLEAR_MOT_M(gt, res, ini, 'iou', distth=0.5)
    else:
        gt = mm.io.loadtxt(gt_path, fmt='mot15-2D', min_confidence=1)
        res = mm.io.loadtxt(res_path, fmt='mot15-2D')
        acc = mm.utils.compare_to_groundtruth(gt, res, 'iou', distth=0.5)
    mh = mm.metrics.create()
    names = ['num_frames', 'num_objects', 'num_predictions', 'num_unique_objects', 'mota', 'motp', 'idf1', 'idp',
             'idr', 'precision', 'recall', 'num_detections', 'num_false_positives', 'num_misses', 'num_switches',
             'num_fragmentations', 'mostly_tracked', 'partially_tracked', 'mostly_lost', 'idtp', 'idfp', 'idfn']
    s = mh.compute(acc, metrics=names, return_dataframe=False)
    return {
        'numFrames': int(s['num_frames']),
        'numGt': int(s['num_objects']),
        'numPred': int(s['num_predictions']),
        'numGtIds': int(s['num_unique_objects']),
        'mota': float(s['mota']),
        'motp': 1.0 - float(s['motp']),
        'idf1': float(s['idf1']),
        'idp': float(s['idp']),
        'idr': float(s['idr']),
        'precision': float(s['precision']),
        'recall': float(s['recall']),
        'tp': int(s['num_detections']),
        'fp': int(s['num_false_positives']),
        'fn': int(s['num_misses']),
        'idsw': int(s['num_switches']),
        'frag': int(s['num_fragmentations']),
        'mt': int(s['mostly_tracked']),
        'pt': int(s['partially_tracked']),
        'ml': int(s['mostly_lost']),
        'idtp': int(round(float(s['idtp']))),
        'idfp': int(round(float(s['idfp']))),
        'idfn': int(round(float(s['idfn']))),
    }


def trackeval_summary(gt_path, res_path, mot16, seq_length, workdir):
    # TrackEval's layout: GT_FOLDER/<seq>/gt/gt.txt and TRACKERS_FOLDER/<tracker>/data/<seq>.txt.
    seq = 'seq'
    os.makedirs(os.path.join(workdir, 'gt', seq, 'gt'))
    os.makedirs(os.path.join(workdir, 'trackers', 'ref', 'data'))
    shutil.copyfile(gt_path, os.path.join(workdir, 'gt', seq, 'gt', 'gt.txt'))
    shutil.copyfile(res_path, os.path.join(workdir, 'trackers', 'ref', 'data', seq + '.txt'))
    config = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
    config.update({
        'GT_FOLDER': os.path.join(workdir, 'gt'),
        'TRACKERS_FOLDER': os.path.join(workdir, 'trackers'),
        'TRACKERS_TO_EVAL': ['ref'],
        'BENCHMARK': 'MOT17' if mot16 else 'MOT15',
        'SEQ_INFO': {seq: seq_length},
        'SKIP_SPLIT_FOL': True,
        'PRINT_CONFIG': False,
    })
    dataset = trackeval.datasets.MotChallenge2DBox(config)
    raw = dataset.get_raw_seq_data('ref', seq)
    data = dataset.get_preprocessed_seq_data(raw, 'pedestrian')
    hota = trackeval.metrics.HOTA({'PRINT_CONFIG': False}).eval_sequence(data)
    clear = trackeval.metrics.CLEAR({'PRINT_CONFIG': False}).eval_sequence(data)
    ident = trackeval.metrics.Identity({'PRINT_CONFIG': False}).eval_sequence(data)
    mean = lambda k: float(np.mean(hota[k]))  # noqa: E731
    return {
        'hota': mean('HOTA'),
        'deta': mean('DetA'),
        'assa': mean('AssA'),
        'loca': mean('LocA'),
        'detre': mean('DetRe'),
        'detpr': mean('DetPr'),
        'assre': mean('AssRe'),
        'asspr': mean('AssPr'),
        # TrackEval's own CLEAR/Identity, for information (its matching differs slightly from py-motmetrics).
        'trackeval': {
            'mota': float(clear['MOTA']),
            'motp': float(clear['MOTP']),
            'idsw': int(clear['IDSW']),
            'fp': int(clear['CLR_FP']),
            'fn': int(clear['CLR_FN']),
            'idf1': float(ident['IDF1']),
            'numGt': int(data['num_gt_dets']),
            'numPred': int(data['num_tracker_dets']),
        },
    }


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    gt_path, res_path = argv
    mot16 = num_columns(gt_path) == 9
    seq_length = max(max_frame(gt_path), max_frame(res_path))
    workdir = tempfile.mkdtemp(prefix='mei-ref-')
    try:
        out = {'gtFormat': 'mot16' if mot16 else 'mot15'}
        out.update(motmetrics_summary(gt_path, res_path, mot16, seq_length, workdir))
        out.update(trackeval_summary(gt_path, res_path, mot16, seq_length, workdir))
        out['versions'] = {'motmetrics': mm.__version__, 'trackeval': getattr(trackeval, '__version__', None),
                           'numpy': np.__version__}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    # NaN (undefined ratio) -> null, as mei-eval --json does.
    clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v  # noqa: E731
    out = {k: ({kk: clean(vv) for kk, vv in v.items()} if isinstance(v, dict) else clean(v)) for k, v in out.items()}
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
