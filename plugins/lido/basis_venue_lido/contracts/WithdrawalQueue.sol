// SPDX-License-Identifier: MIT
// Not Lido's code: a minimal share-based stETH for basis-core tests; exposes Lido's ABI.
// This is a simplified WithdrawalQueueERC721 (requests are not NFTs): requestWithdrawals,
// requestWithdrawalsWstETH, getWithdrawalStatus, getWithdrawalRequests, getClaimableEther,
// claimWithdrawal, claimWithdrawals, claimWithdrawalsTo, getLastRequestId, getLastFinalizedRequestId,
// with Lido's names, argument order, struct layout, events and custom errors. Finalization is an
// owner-only test call `finalize(lastRequestId)` (Lido's takes a max share rate and is called by
// the protocol with ETH); each request then locks min(amountOfStETH, stETH value of its shares at
// finalization), as Lido's discounting does. An optional delay makes requests finalizable only
// `finalizationDelay` seconds after they were made.
pragma solidity ^0.8.20;

interface IStETHQ {
    function getPooledEthByShares(uint256 _sharesAmount) external view returns (uint256);
    function getSharesByPooledEth(uint256 _pooledEthAmount) external view returns (uint256);
    function transferFrom(address _sender, address _recipient, uint256 _amount) external returns (bool);
    function finalizeWithdrawals(uint256 _sharesToBurn, uint256 _etherToLock) external;
}

interface IWstETHQ {
    function transferFrom(address _from, address _to, uint256 _value) external returns (bool);
    function unwrap(uint256 _wstETHAmount) external returns (uint256);
}

contract WithdrawalQueue {
    struct WithdrawalRequestStatus {
        uint256 amountOfStETH;
        uint256 amountOfShares;
        address owner;
        uint256 timestamp;
        bool isFinalized;
        bool isClaimed;
    }

    struct Request {
        uint128 amountOfStETH;
        uint128 amountOfShares;
        address owner;
        uint40 timestamp;
        bool claimed;
        uint256 claimableEther;
    }

    uint256 public constant MIN_STETH_WITHDRAWAL_AMOUNT = 100;
    uint256 public constant MAX_STETH_WITHDRAWAL_AMOUNT = 1000 ether;

    IStETHQ public immutable STETH;
    IWstETHQ public immutable WSTETH;
    address public owner;
    uint256 public finalizationDelay;

    uint256 private lastRequestId;
    uint256 private lastFinalizedRequestId;
    uint256 private lockedEtherAmount;
    mapping(uint256 => Request) private requests;
    mapping(address => uint256[]) private requestsByOwner;

    event WithdrawalRequested(
        uint256 indexed requestId,
        address indexed requestor,
        address indexed owner,
        uint256 amountOfStETH,
        uint256 amountOfShares
    );
    event WithdrawalsFinalized(
        uint256 indexed from, uint256 indexed to, uint256 amountOfETHLocked, uint256 sharesToBurn, uint256 timestamp
    );
    event WithdrawalClaimed(
        uint256 indexed requestId, address indexed owner, address indexed receiver, uint256 amountOfETH
    );

    error RequestAmountTooSmall(uint256 _amountOfStETH);
    error RequestAmountTooLarge(uint256 _amountOfStETH);
    error InvalidRequestId(uint256 _requestId);
    error InvalidRequestIdRange(uint256 startId, uint256 endId);
    error RequestNotFoundOrNotFinalized(uint256 _requestId);
    error RequestAlreadyClaimed(uint256 _requestId);
    error NotOwner(address _sender, address _owner);
    error ArraysLengthMismatch(uint256 _firstArrayLength, uint256 _secondArrayLength);
    error TooEarlyToFinalize(uint256 _requestId, uint256 _finalizableAt);
    error CantSendValueRecipientMayHaveReverted();

    constructor(IStETHQ _stETH, IWstETHQ _wstETH) {
        STETH = _stETH;
        WSTETH = _wstETH;
        owner = msg.sender;
    }

    /// @notice ETH arrives from stETH on finalization.
    receive() external payable {
        require(msg.sender == address(STETH), "ONLY_STETH");
    }

    // ------------------------------------------------------------------ requests

    function requestWithdrawals(uint256[] calldata _amounts, address _owner)
        external
        returns (uint256[] memory requestIds)
    {
        if (_owner == address(0)) _owner = msg.sender;
        requestIds = new uint256[](_amounts.length);
        for (uint256 i = 0; i < _amounts.length; ++i) {
            _checkWithdrawalRequestAmount(_amounts[i]);
            STETH.transferFrom(msg.sender, address(this), _amounts[i]);
            uint256 amountOfShares = STETH.getSharesByPooledEth(_amounts[i]);
            requestIds[i] = _enqueue(_amounts[i], amountOfShares, _owner);
        }
    }

    function requestWithdrawalsWstETH(uint256[] calldata _amounts, address _owner)
        external
        returns (uint256[] memory requestIds)
    {
        if (_owner == address(0)) _owner = msg.sender;
        requestIds = new uint256[](_amounts.length);
        for (uint256 i = 0; i < _amounts.length; ++i) {
            WSTETH.transferFrom(msg.sender, address(this), _amounts[i]);
            uint256 amountOfStETH = WSTETH.unwrap(_amounts[i]);
            _checkWithdrawalRequestAmount(amountOfStETH);
            uint256 amountOfShares = STETH.getSharesByPooledEth(amountOfStETH);
            requestIds[i] = _enqueue(amountOfStETH, amountOfShares, _owner);
        }
    }

    function _checkWithdrawalRequestAmount(uint256 _amountOfStETH) internal pure {
        if (_amountOfStETH < MIN_STETH_WITHDRAWAL_AMOUNT) revert RequestAmountTooSmall(_amountOfStETH);
        if (_amountOfStETH > MAX_STETH_WITHDRAWAL_AMOUNT) revert RequestAmountTooLarge(_amountOfStETH);
    }

    function _enqueue(uint256 _amountOfStETH, uint256 _amountOfShares, address _owner)
        internal
        returns (uint256 requestId)
    {
        requestId = ++lastRequestId;
        requests[requestId] = Request({
            amountOfStETH: uint128(_amountOfStETH),
            amountOfShares: uint128(_amountOfShares),
            owner: _owner,
            timestamp: uint40(block.timestamp),
            claimed: false,
            claimableEther: 0
        });
        requestsByOwner[_owner].push(requestId);
        emit WithdrawalRequested(requestId, msg.sender, _owner, _amountOfStETH, _amountOfShares);
    }

    // ------------------------------------------------------------------ views

    function getLastRequestId() external view returns (uint256) {
        return lastRequestId;
    }

    function getLastFinalizedRequestId() external view returns (uint256) {
        return lastFinalizedRequestId;
    }

    function getLockedEtherAmount() external view returns (uint256) {
        return lockedEtherAmount;
    }

    /// @notice stETH amount in requests not yet finalized.
    function unfinalizedStETH() external view returns (uint256 total) {
        for (uint256 id = lastFinalizedRequestId + 1; id <= lastRequestId; ++id) {
            total += requests[id].amountOfStETH;
        }
    }

    /// @notice Unclaimed request ids of `_owner`.
    function getWithdrawalRequests(address _owner) external view returns (uint256[] memory requestIds) {
        uint256[] storage all = requestsByOwner[_owner];
        uint256 n;
        for (uint256 i = 0; i < all.length; ++i) {
            if (!requests[all[i]].claimed) ++n;
        }
        requestIds = new uint256[](n);
        n = 0;
        for (uint256 i = 0; i < all.length; ++i) {
            if (!requests[all[i]].claimed) requestIds[n++] = all[i];
        }
    }

    function getWithdrawalStatus(uint256[] calldata _requestIds)
        external
        view
        returns (WithdrawalRequestStatus[] memory statuses)
    {
        statuses = new WithdrawalRequestStatus[](_requestIds.length);
        for (uint256 i = 0; i < _requestIds.length; ++i) {
            uint256 id = _requestIds[i];
            if (id == 0 || id > lastRequestId) revert InvalidRequestId(id);
            Request storage r = requests[id];
            statuses[i] = WithdrawalRequestStatus({
                amountOfStETH: r.amountOfStETH,
                amountOfShares: r.amountOfShares,
                owner: r.owner,
                timestamp: r.timestamp,
                isFinalized: id <= lastFinalizedRequestId,
                isClaimed: r.claimed
            });
        }
    }

    /// @notice ETH claimable now per request (0 if not finalized or already claimed); hints ignored.
    function getClaimableEther(uint256[] calldata _requestIds, uint256[] calldata _hints)
        external
        view
        returns (uint256[] memory claimableEthValues)
    {
        if (_requestIds.length != _hints.length) revert ArraysLengthMismatch(_requestIds.length, _hints.length);
        claimableEthValues = new uint256[](_requestIds.length);
        for (uint256 i = 0; i < _requestIds.length; ++i) {
            uint256 id = _requestIds[i];
            if (id == 0 || id > lastRequestId) revert InvalidRequestId(id);
            Request storage r = requests[id];
            if (id <= lastFinalizedRequestId && !r.claimed) claimableEthValues[i] = r.claimableEther;
        }
    }

    /// @notice Lido's hint lookup; this queue ignores hints, so every hint returned is 1.
    function findCheckpointHints(uint256[] calldata _requestIds, uint256, uint256)
        external
        pure
        returns (uint256[] memory hintIds)
    {
        hintIds = new uint256[](_requestIds.length);
        for (uint256 i = 0; i < _requestIds.length; ++i) {
            hintIds[i] = 1;
        }
    }

    // ------------------------------------------------------------------ finalization (test admin)

    function setFinalizationDelay(uint256 _seconds) external {
        require(msg.sender == owner, "APP_AUTH_FAILED");
        finalizationDelay = _seconds;
    }

    /// @notice Make requests up to `_lastRequestIdToBeFinalized` claimable. Each request locks
    ///         min(amountOfStETH, getPooledEthByShares(amountOfShares)) at the current share rate;
    ///         the batch's shares are burnt and the ETH moves here from stETH.
    function finalize(uint256 _lastRequestIdToBeFinalized) external {
        require(msg.sender == owner, "APP_AUTH_FAILED");
        uint256 first = lastFinalizedRequestId + 1;
        if (_lastRequestIdToBeFinalized < first || _lastRequestIdToBeFinalized > lastRequestId) {
            revert InvalidRequestIdRange(first, _lastRequestIdToBeFinalized);
        }
        uint256 finalizableAt = uint256(requests[_lastRequestIdToBeFinalized].timestamp) + finalizationDelay;
        if (block.timestamp < finalizableAt) revert TooEarlyToFinalize(_lastRequestIdToBeFinalized, finalizableAt);

        uint256 ethToLock;
        uint256 sharesToBurn;
        for (uint256 id = first; id <= _lastRequestIdToBeFinalized; ++id) {
            Request storage r = requests[id];
            uint256 byShares = STETH.getPooledEthByShares(r.amountOfShares);
            uint256 eth = byShares < r.amountOfStETH ? byShares : r.amountOfStETH;
            r.claimableEther = eth;
            ethToLock += eth;
            sharesToBurn += r.amountOfShares;
        }
        lastFinalizedRequestId = _lastRequestIdToBeFinalized;
        lockedEtherAmount += ethToLock;
        STETH.finalizeWithdrawals(sharesToBurn, ethToLock);
        emit WithdrawalsFinalized(first, _lastRequestIdToBeFinalized, ethToLock, sharesToBurn, block.timestamp);
    }

    // ------------------------------------------------------------------ claims

    function claimWithdrawal(uint256 _requestId) external {
        _claim(_requestId, msg.sender);
    }

    function claimWithdrawals(uint256[] calldata _requestIds, uint256[] calldata _hints) external {
        if (_requestIds.length != _hints.length) revert ArraysLengthMismatch(_requestIds.length, _hints.length);
        for (uint256 i = 0; i < _requestIds.length; ++i) {
            _claim(_requestIds[i], msg.sender);
        }
    }

    function claimWithdrawalsTo(uint256[] calldata _requestIds, uint256[] calldata _hints, address _recipient)
        external
    {
        if (_requestIds.length != _hints.length) revert ArraysLengthMismatch(_requestIds.length, _hints.length);
        for (uint256 i = 0; i < _requestIds.length; ++i) {
            _claim(_requestIds[i], _recipient);
        }
    }

    function _claim(uint256 _requestId, address _recipient) internal {
        if (_requestId == 0) revert InvalidRequestId(_requestId);
        if (_requestId > lastFinalizedRequestId) revert RequestNotFoundOrNotFinalized(_requestId);
        Request storage r = requests[_requestId];
        if (r.claimed) revert RequestAlreadyClaimed(_requestId);
        if (r.owner != msg.sender) revert NotOwner(msg.sender, r.owner);
        r.claimed = true;
        uint256 eth = r.claimableEther;
        lockedEtherAmount -= eth;
        (bool ok,) = _recipient.call{value: eth}("");
        if (!ok) revert CantSendValueRecipientMayHaveReverted();
        emit WithdrawalClaimed(_requestId, r.owner, _recipient, eth);
    }
}
