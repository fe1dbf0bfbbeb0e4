"""Helpers of the ad-counter part of scripts/demo.sh (moto SQS through boto3, tables).

  ads-demo.py queue NAME             create the queue, print its URL
  ads-demo.py hits OUT SHOW CLICK N  write a curl config of N shows and N/20 clicks
  ads-demo.py drain URL OUT_DIR      receive (and delete) every message into SQS events of
                                     up to 1,000 records, one file each; print the files
  ads-demo.py failures               read worker answers on stdin; fail on any failure
  ads-demo.py hours                  print GET /v1/advert/hour's answer (stdin) as a table
  ads-demo.py day                    print GET /v1/advert/day's answer (stdin) as a table
"""

import json
import os
import sys

import boto3


def sqs():
    return boto3.client(
        "sqs",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )


def main(argv):
    command = argv[1]
    if command == "queue":
        print(sqs().create_queue(QueueName=argv[2])["QueueUrl"])
    elif command == "hits":
        out, show, click, n = argv[2], argv[3], argv[4], int(argv[5])
        base = "http://127.0.0.1:9000/lambda-url/ad-api/v1/oper"
        with open(out, "w") as f:
            for i in range(n):
                # 300 visitors; each hit from a different "browser" id.
                f.write(f'url = "{base}/show?code={show}&uid=visitor-{i % 300}"\n-o /dev/null\n')
                if i % 20 == 0:
                    f.write(f'url = "{base}/click?code={click}&uid=visitor-{i % 300}&redirect=0"\n-o /dev/null\n')
    elif command == "drain":
        url, out_dir = argv[2], argv[3]
        client, records = sqs(), []
        while True:
            got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            client.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
            )
            for m in got:
                records.append({
                    "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"], "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:demo", "awsRegion": "us-east-1",
                })
        for n, start in enumerate(range(0, len(records), 1000)):
            path = os.path.join(out_dir, f"batch-{n}.json")
            json.dump({"Records": records[start:start + 1000]}, open(path, "w"))
            print(path)
        print(f"{len(records)} messages drained", file=sys.stderr)
    elif command == "failures":
        text, decoder, failures, at = sys.stdin.read(), json.JSONDecoder(), [], 0
        while True:
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text):
                break
            answer, at = decoder.raw_decode(text, at)
            failures.append(answer["batchItemFailures"])
        bad = [f for fs in failures for f in fs]
        print(f"{len(failures)} worker invocations, {len(bad)} failed messages")
        sys.exit(1 if bad else 0)
    elif command == "hours":
        table = json.load(sys.stdin)["data"]
        print(f"{'hour':>4} {'shows':>7} {'clicks':>7} {'ctr':>7} {'visitors':>9}")
        for h in table["hours"]:
            if h["shows"] or h["clicks"]:
                ctr = "-" if h["ctr"] is None else f"{h['ctr']:.3f}"
                print(f"{h['hour']:>4} {h['shows']:>7} {h['clicks']:>7} {ctr:>7} {h['visitors']:>9}")
        print("seed shape, shows:", json.dumps({k: v for k, v in table["shows"].items() if v}))
    elif command == "day":
        rows = json.load(sys.stdin)["data"]
        print(f"{'day':>10} {'style':>5} {'shows':>7} {'clicks':>7} {'ctr':>7} {'visitors':>9} archived")
        for r in rows:
            ctr = "-" if r["ctr"] is None else f"{r['ctr']:.3f}"
            print(f"{r['day']:>10} {r['style_id']:>5} {r['shows']:>7} {r['clicks']:>7} {ctr:>7} {r['visitors']:>9} {r['archived']}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
