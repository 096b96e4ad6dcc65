"""Evaluation: data readers (VOC scenes, class folders), metrics (mAP@0.5, face recall, confusion)."""
